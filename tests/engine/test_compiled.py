"""Tests for netfleet.engine.compiled: what `compile` stores about how to train
(`run_eagerly`, `jit_compile`) and the errors for values Keras would not take."""

import re

import numpy as np
import pytest
import torch

from netfleet.errors import InvalidArgumentError
from netfleet.layers import Dense
from netfleet.models import Sequential


def _model():
    return Sequential([Dense(2, activation="softmax", input_shape=(3,))])


def _autograd_backward_calls(model, monkeypatch):
    """How many times `fit` on a small data set called autograd's backward."""
    backward, calls = torch.autograd.backward, []
    monkeypatch.setattr(torch.autograd, "backward", lambda *a: calls.append(a) or backward(*a))
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(8, 3)), rng.integers(2, size=8), batch_size=4, verbose=0)
    return len(calls)


def test_run_eagerly_defaults_to_false_and_selects_autograd_when_true(monkeypatch):
    model = _model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert model.compiled.run_eagerly is False
    assert _autograd_backward_calls(model, monkeypatch) == 0  # the fused step
    model.compile("sgd", "sparse_categorical_crossentropy", run_eagerly=True)
    assert model.compiled.run_eagerly is True
    assert _autograd_backward_calls(model, monkeypatch) == 2  # one per batch


@pytest.mark.parametrize("jit_compile", [True, False, "auto"])
def test_jit_compile_takes_keras_values_and_changes_nothing(jit_compile, monkeypatch):
    model = _model()
    model.compile("sgd", "sparse_categorical_crossentropy", jit_compile=jit_compile)
    assert model.compiled.jit_compile == jit_compile
    assert _autograd_backward_calls(model, monkeypatch) == 0


@pytest.mark.parametrize(
    ("argument", "value", "expected"),
    [
        ("run_eagerly", "yes", "True or False"),
        ("run_eagerly", 1, "True or False"),
        ("jit_compile", "xla", "True, False or 'auto'"),
        ("jit_compile", None, "True, False or 'auto'"),
    ],
)
def test_bad_run_eagerly_or_jit_compile_gives_the_argument_sentence(argument, value, expected):
    message = f"The '{argument}' argument of compile must be {expected}. Got {value!r}."
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        _model().compile("sgd", "mse", **{argument: value})
