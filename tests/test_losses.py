"""Tests for netfleet.losses: each loss against its Keras formula in NumPy and against
torch.nn.functional, the logits forms against the probability forms, and `get`."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netfleet import losses

EPS = 1e-7
M, B, C = 3, 16, 5


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=(M, B, C))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = rng.integers(0, C, size=B)
    one_hot = np.eye(C)[labels]
    binary = rng.integers(0, 2, size=(B, 1)).astype(float)
    return {
        "logits": logits,
        "probs": probs,
        "labels": labels,
        "one_hot": one_hot,
        "binary": binary,
    }


def t(a):
    return torch.tensor(a, dtype=torch.float64)


# -- NumPy versions of Keras' formulas -----------------------------------------------------
def np_binary_crossentropy(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1)


def np_categorical_crossentropy(y, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(y * np.log(p)).sum(-1)


def np_sparse_categorical_crossentropy(labels, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.log(np.take_along_axis(p, labels[None, :, None], -1)[..., 0])


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# -- probability forms -----------------------------------------------------------------------
def test_binary_crossentropy_matches_keras_formula_and_torch(data):
    logits = data["logits"][..., :1]
    p, y = np_sigmoid(logits), data["binary"]
    out = losses.binary_crossentropy(t(y)[None], t(p))
    assert out.shape == (M, B)
    np.testing.assert_allclose(out.numpy(), np_binary_crossentropy(y[None], p), rtol=1e-10)
    torch_out = F.binary_cross_entropy(t(p), t(y).expand(M, B, 1), reduction="none").mean(-1)
    np.testing.assert_allclose(out.numpy(), torch_out.numpy(), rtol=1e-9)


def test_binary_crossentropy_averages_over_several_outputs(data):
    p = np_sigmoid(data["logits"])
    y = (data["one_hot"] > 0).astype(float)
    out = losses.binary_crossentropy(t(y)[None], t(p))
    np.testing.assert_allclose(out.numpy(), np_binary_crossentropy(y[None], p), rtol=1e-10)


def test_binary_crossentropy_clips_probabilities_to_epsilon():
    out = losses.binary_crossentropy(t([[[1.0], [0.0]]]), t([[[0.0], [1.0]]]))
    np.testing.assert_allclose(out.numpy(), -np.log(EPS) * np.ones((1, 2)), rtol=1e-6)


def test_categorical_crossentropy_matches_keras_formula_and_torch(data):
    p, y = data["probs"], data["one_hot"]
    out = losses.categorical_crossentropy(t(y)[None], t(p))
    assert out.shape == (M, B)
    np.testing.assert_allclose(out.numpy(), np_categorical_crossentropy(y[None], p), rtol=1e-10)
    torch_out = F.nll_loss(
        t(np.log(p)).reshape(-1, C), torch.tensor(np.tile(data["labels"], M)), reduction="none"
    )
    np.testing.assert_allclose(out.numpy().reshape(-1), torch_out.numpy(), rtol=1e-9)


def test_categorical_crossentropy_renormalises_unnormalised_outputs(data):
    p, y = data["probs"], data["one_hot"]
    out = losses.categorical_crossentropy(t(y)[None], t(3 * p))
    np.testing.assert_allclose(out.numpy(), np_categorical_crossentropy(y[None], p), rtol=1e-10)


def test_sparse_categorical_crossentropy_matches_keras_formula_and_torch(data):
    p, labels = data["probs"], data["labels"]
    out = losses.sparse_categorical_crossentropy(torch.tensor(labels)[None], t(p))
    assert out.shape == (M, B)
    np.testing.assert_allclose(
        out.numpy(), np_sparse_categorical_crossentropy(labels, p), rtol=1e-10
    )
    dense = losses.categorical_crossentropy(t(data["one_hot"])[None], t(p))
    np.testing.assert_allclose(out.numpy(), dense.numpy(), rtol=1e-10)


def test_mean_squared_and_absolute_errors_match_formula_and_torch(data):
    y, p = data["one_hot"], data["probs"]
    mse = losses.mean_squared_error(t(y)[None], t(p))
    mae = losses.mean_absolute_error(t(y)[None], t(p))
    np.testing.assert_allclose(mse.numpy(), ((p - y) ** 2).mean(-1), rtol=1e-12)
    np.testing.assert_allclose(mae.numpy(), np.abs(p - y).mean(-1), rtol=1e-12)
    torch_mse = F.mse_loss(t(p), t(y).expand(M, B, C), reduction="none").mean(-1)
    torch_mae = F.l1_loss(t(p), t(y).expand(M, B, C), reduction="none").mean(-1)
    np.testing.assert_allclose(mse.numpy(), torch_mse.numpy(), rtol=1e-12)
    np.testing.assert_allclose(mae.numpy(), torch_mae.numpy(), rtol=1e-12)


# -- logits forms ------------------------------------------------------------------------------
def test_binary_crossentropy_from_logits_equals_the_probability_form(data):
    logits, y = data["logits"], (data["one_hot"] > 0).astype(float)
    from_logits = losses.binary_crossentropy_from_logits(t(y)[None], t(logits))
    from_probs = losses.binary_crossentropy(t(y)[None], torch.sigmoid(t(logits)))
    np.testing.assert_allclose(from_logits.numpy(), from_probs.numpy(), atol=1e-5)


def test_categorical_crossentropy_from_logits_equals_the_probability_form(data):
    logits, y = data["logits"], data["one_hot"]
    from_logits = losses.categorical_crossentropy_from_logits(t(y)[None], t(logits))
    from_probs = losses.categorical_crossentropy(t(y)[None], torch.softmax(t(logits), -1))
    assert from_logits.shape == (M, B)
    np.testing.assert_allclose(from_logits.numpy(), from_probs.numpy(), atol=1e-5)


def test_sparse_categorical_crossentropy_from_logits_equals_the_probability_form(data):
    logits, labels = data["logits"], torch.tensor(data["labels"])[None]
    from_logits = losses.sparse_categorical_crossentropy_from_logits(labels, t(logits))
    from_probs = losses.sparse_categorical_crossentropy(labels, torch.softmax(t(logits), -1))
    assert from_logits.shape == (M, B)
    np.testing.assert_allclose(from_logits.numpy(), from_probs.numpy(), atol=1e-5)


def test_logits_forms_match_torch_functional_in_float32(data):
    logits = torch.tensor(data["logits"], dtype=torch.float32)
    labels = torch.tensor(data["labels"])
    sparse = losses.sparse_categorical_crossentropy_from_logits(labels[None], logits)
    expected = torch.stack([F.cross_entropy(logits[m], labels, reduction="none") for m in range(M)])
    torch.testing.assert_close(sparse, expected)
    y = torch.tensor(data["binary"], dtype=torch.float32)
    bce = losses.binary_crossentropy_from_logits(y[None], logits[..., :1])
    expected = F.binary_cross_entropy_with_logits(
        logits[..., :1], y.expand(M, B, 1), reduction="none"
    ).mean(-1)
    torch.testing.assert_close(bce, expected)


def test_logits_forms_stay_finite_where_probabilities_saturate():
    logits = t([[[40.0], [-40.0]]])
    y = t([[[0.0], [1.0]]])
    out = losses.binary_crossentropy_from_logits(y, logits)
    np.testing.assert_allclose(out.numpy(), [[40.0, 40.0]], rtol=1e-6)


# -- the catalog ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, labels, activation",
    [
        ("binary_crossentropy", "probabilities", "sigmoid"),
        ("categorical_crossentropy", "one_hot", "softmax"),
        ("sparse_categorical_crossentropy", "integers", "softmax"),
        ("mean_squared_error", "values", None),
        ("mean_absolute_error", "values", None),
    ],
)
def test_get_returns_named_losses_with_their_label_kind(name, labels, activation):
    loss = losses.get(name)
    assert isinstance(loss, losses.Loss)
    assert loss.name == name and loss.labels == labels
    assert loss.logits_activation == activation
    assert loss.direction == "min"
    assert loss.get_config() == {"name": name}


@pytest.mark.parametrize(
    "alias, name", [("mse", "mean_squared_error"), ("mae", "mean_absolute_error")]
)
def test_aliases(alias, name):
    assert losses.get(alias).name == name


def test_get_accepts_a_loss_and_a_callable():
    loss = losses.get("mse")
    assert losses.get(loss) is loss

    def squared_log_error(y_true, y_pred):
        return (torch.log1p(y_pred) - torch.log1p(y_true)).square().mean(-1)

    custom = losses.get(squared_log_error)
    assert custom.name == "squared_log_error" and custom.logits_fn is None
    out = custom(t([[[1.0]]]), t([[[3.0]]]))
    np.testing.assert_allclose(out.numpy(), [[(np.log(4) - np.log(2)) ** 2]])


def test_unknown_loss_raises_with_did_you_mean():
    with pytest.raises(
        ValueError,
        match="Unknown loss 'categorical_crossentopy'. Did you mean 'categorical_crossentropy'",
    ):
        losses.get("categorical_crossentopy")
    with pytest.raises(TypeError, match="A loss must be"):
        losses.get(3)
