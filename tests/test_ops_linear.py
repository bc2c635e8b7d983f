"""Tests for netfleet.ops.linear: `member_linear` against a per-member loop of
`torch.nn.functional.linear` (the oracle), for shared and per-member inputs."""

import pytest
import torch
import torch.nn.functional as F

from netfleet.ops.linear import member_linear

IN, OUT, BATCH = 5, 3, 7


def _weights(members, seed=0):
    generator = torch.Generator().manual_seed(seed)
    kernel = torch.randn(members, IN, OUT, generator=generator)
    bias = torch.randn(members, OUT, generator=generator)
    return kernel, bias


def _oracle(x, kernel, bias):
    """`F.linear` member by member; a shared input (leading axis 1) feeds every member."""
    outputs = []
    for m in range(kernel.shape[0]):
        xm = x[0] if x.shape[0] == 1 else x[m]
        outputs.append(F.linear(xm, kernel[m].T, None if bias is None else bias[m]))
    return torch.stack(outputs)


@pytest.mark.parametrize("members", [1, 4])
@pytest.mark.parametrize("shared", [True, False], ids=["shared_input", "own_input"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_member_linear_equals_a_loop_of_torch_linear(members, shared, use_bias):
    kernel, bias = _weights(members)
    bias = bias if use_bias else None
    x = torch.randn(1 if shared else members, BATCH, IN, generator=torch.Generator().manual_seed(1))
    out = member_linear(x, kernel, bias)
    assert out.shape == (members, BATCH, OUT)
    torch.testing.assert_close(out, _oracle(x, kernel, bias), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("members", [1, 4])
@pytest.mark.parametrize("shared", [True, False], ids=["shared_input", "own_input"])
def test_member_linear_keeps_extra_leading_axes(members, shared):
    kernel, bias = _weights(members)
    x = torch.randn(1 if shared else members, BATCH, 2, IN)
    out = member_linear(x, kernel, bias)
    assert out.shape == (members, BATCH, 2, OUT)
    torch.testing.assert_close(out, _oracle(x, kernel, bias), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shared", [True, False], ids=["shared_input", "own_input"])
def test_member_linear_gradients_equal_the_loop(shared):
    members = 4
    kernel, bias = _weights(members)
    x = torch.randn(1 if shared else members, BATCH, IN)
    grads = []
    for fn in (member_linear, _oracle):
        k, b = kernel.clone().requires_grad_(), bias.clone().requires_grad_()
        (fn(x, k, b) ** 2).sum().backward()
        grads.append((k.grad, b.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-5, atol=1e-5)


def test_each_member_sees_only_its_own_kernel():
    kernel = torch.zeros(3, IN, OUT)
    kernel[1] = 1.0
    out = member_linear(torch.ones(1, 2, IN), kernel)
    assert torch.all(out[0] == 0) and torch.all(out[2] == 0)
    assert torch.all(out[1] == IN)
