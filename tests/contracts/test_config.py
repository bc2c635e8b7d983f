"""Contract: every registered entry survives the trip through the form a model file stores it
in: a class through `get_config` / `from_config` (and JSON), a function through its name."""

import json

import numpy as np
import pytest
import torch

from netfleet import activations, initializers, layers, losses, metrics, optimizers, registry
from netfleet.errors import InvalidArgumentError

from . import specs, trials


def _json(value):
    return json.loads(json.dumps(value))


def _has_config(kind, name, obj):
    return specs.is_class(obj) and hasattr(obj, "get_config") and specs.storable(kind, name, obj)


def _is_function(kind, name, obj):
    return not specs.is_class(obj)


@pytest.mark.parametrize(("kind", "name", "cls"), specs.cases(*registry.KINDS, where=_has_config))
def test_a_class_rebuilds_from_its_config(kind, name, cls, tmp_path):
    original = specs.instance(kind, name, tmp_path)
    config = original.get_config()
    rebuilt = cls.from_config(_json(config))
    assert type(rebuilt) is cls
    assert rebuilt.get_config() == config


# How a file names an instance of each kind, read back by the kind's own lookup.
FILE_FORMS = {
    "layer": lambda obj: layers.deserialize(
        _json({"class_name": type(obj).__name__, "config": obj.get_config()})
    ),
    "initializer": lambda obj: initializers.get(_json(initializers.serialize(obj))),
    "optimizer": lambda obj: optimizers.get(_json(optimizers.serialize(obj))),
}


@pytest.mark.parametrize(("kind", "name", "cls"), specs.cases(*FILE_FORMS, where=specs.storable))
def test_a_class_is_found_by_the_name_a_file_stores(kind, name, cls, tmp_path):
    original = specs.instance(kind, name, tmp_path)
    rebuilt = FILE_FORMS[kind](original)
    assert type(rebuilt) is cls
    assert rebuilt.get_config() == original.get_config()


@pytest.mark.parametrize(("kind", "name", "cls"), specs.cases("initializer"))
def test_a_rebuilt_initializer_draws_the_same_values(kind, name, cls, tmp_path):
    original = specs.instance(kind, name, tmp_path)
    rebuilt = cls.from_config(_json(original.get_config()))
    drawn = [init((5, 3), torch.Generator().manual_seed(7)) for init in (original, rebuilt)]
    torch.testing.assert_close(drawn[0], drawn[1], rtol=0, atol=0)


@pytest.mark.parametrize(("kind", "name", "fn"), specs.cases("activation"))
def test_an_activation_is_stored_by_its_name(kind, name, fn):
    assert activations.serialize(fn) == name
    assert activations.get(name) is fn
    dense = layers.Dense(2, activation=name)
    assert dense.get_config()["activation"] == name
    assert layers.Dense.from_config(_json(dense.get_config())).activation is fn


@pytest.mark.parametrize(("kind", "name", "fn"), specs.cases("loss"))
def test_a_loss_is_stored_by_its_name(kind, name, fn):
    loss = losses.get(name)
    assert loss.fn is fn
    assert loss.name == name
    assert losses.get(_json(loss.get_config())["name"]).fn is fn


@pytest.mark.parametrize(("kind", "name", "fn"), specs.cases("metric", where=_is_function))
def test_a_metric_function_is_found_by_its_name_and_averages_its_values(kind, name, fn):
    task_name = specs.spec(kind, name).task
    task = trials.TASKS[task_name]
    _, y = trials.data(task_name, (4,))
    rng = np.random.default_rng(1)
    y_pred = torch.softmax(torch.as_tensor(rng.normal(size=(1, len(y), task.units))), -1)
    if task.units == 1:
        y_pred = torch.sigmoid(torch.as_tensor(rng.normal(size=(1, len(y), 1))))
    y_true = torch.as_tensor(y)[None]
    metric = metrics.get(name, losses.get(task.loss), task.units)
    assert metric.name == name
    metric.reset(1)
    metric.update(y_true, y_pred.float())
    expected = fn(y_true, y_pred.float()).mean(1)
    torch.testing.assert_close(metric.result(), expected)


@pytest.mark.parametrize(
    ("kind", "name", "cls"),
    specs.cases(*registry.KINDS, where=lambda *entry: not specs.storable(*entry)),
)
def test_a_class_holding_code_refuses_to_give_a_config(kind, name, cls, tmp_path):
    with pytest.raises(InvalidArgumentError, match="never serializes code"):
        specs.instance(kind, name, tmp_path).get_config()
