"""The class-axis kernels: PyTorch's values, and the same bits for a member alone and in a fleet."""

import pickle

import numpy as np
import pytest
import torch

from netfleet.ops import classes
from netfleet.optimizers import Adam

SHAPES = [(1, 32, 10), (4, 32, 10), (1, 128, 10), (16, 128, 10), (3, 200, 3), (2, 128, 20)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_softmax_and_log_softmax_equal_pytorch(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * 5
    torch.testing.assert_close(classes.softmax(x), torch.softmax(x, -1), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(
        classes.log_softmax(x), torch.log_softmax(x, -1), rtol=1e-6, atol=1e-6
    )
    assert classes.softmax(x).is_contiguous() and classes.log_softmax(x).is_contiguous()


@pytest.mark.parametrize("rows", [32, 128, 300])
def test_a_member_computes_the_same_bits_alone_and_in_a_fleet(rows):
    fleet = torch.randn(16, rows, 10, generator=torch.Generator().manual_seed(1)) * 3
    for member in (0, 7, 15):
        alone = fleet[member : member + 1].clone()
        assert torch.equal(classes.softmax(alone)[0], classes.softmax(fleet)[member])
        assert torch.equal(classes.log_softmax(alone)[0], classes.log_softmax(fleet)[member])


def test_padded_rows_keep_infinities_and_nan_as_softmax_does():
    x = torch.zeros(1, 128, 10)
    x[0, 0, 3] = float("inf")
    x[0, 1, :] = float("-inf")
    x[0, 2, 5] = float("nan")
    x[0, 3, 2] = 1e30
    expected = torch.softmax(x, -1)
    torch.testing.assert_close(classes.softmax(x), expected, equal_nan=True)
    torch.testing.assert_close(classes.log_softmax(x), torch.log_softmax(x, -1), equal_nan=True)


@pytest.mark.parametrize("shape", [(1, 32, 10), (16, 128, 10), (1, 5000, 3), (2, 64, 30)], ids=str)
def test_argmax_gives_pytorchs_indices_with_ties_and_nan(shape):
    x = torch.randint(0, 3, shape, generator=torch.Generator().manual_seed(2)).float()
    x[0, 0, -1] = float("nan")
    x[0, 1, :] = float("-inf")
    assert torch.equal(classes.argmax(x), x.argmax(-1))


def test_adam_keeps_its_scratch_between_steps_and_does_not_pickle_it():
    data = torch.zeros(3, 50)
    optimizer = Adam(learning_rate=[0.1, 0.01, 0.001])
    optimizer.build(data)
    grad = torch.randn(3, 50, generator=torch.Generator().manual_seed(3))
    optimizer.apply(data, grad)
    scratch = {i: t.data_ptr() for i, t in optimizer._scratch.items()}
    optimizer.apply(data, grad)
    assert {i: t.data_ptr() for i, t in optimizer._scratch.items()} == scratch
    copy = pickle.loads(pickle.dumps(optimizer))
    assert "_scratch" not in vars(copy)
    np.testing.assert_array_equal(copy.slots["m"].numpy(), optimizer.slots["m"].numpy())
