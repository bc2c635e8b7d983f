"""Contract: the registry is complete. Every public class and function of the building-block
packages is registered (so it gets the contract checks), every registered entry is public,
and every other name the library accepts (Keras' aliases and spellings) stands for one."""

import inspect
import re

import pytest

import netfleet
from netfleet import activations, initializers, losses, metrics, optimizers, registry

from . import specs

PACKAGES = {
    "activation": netfleet.activations,
    "callback": netfleet.callbacks,
    "initializer": netfleet.initializers,
    "layer": netfleet.layers,
    "loss": netfleet.losses,
    "metric": netfleet.metrics,
    "model": netfleet.models,
    "optimizer": netfleet.optimizers,
}

# Public names that are not building blocks, and why. Abstract bases (a class that a
# registered entry derives from) and a registered entry's own forms (`<name>_from_logits`,
# Keras' functional `add` for `Add`) are recognised without a line here.
NOT_BUILDING_BLOCKS = {
    "get": "the lookup of an entry by name",
    "serialize": "the name or config a file stores for an entry",
    "deserialize": "the lookup of an entry from what a file stores",
    "Input": "makes a symbolic tensor; its layer, InputLayer, is registered",
    "load_model": "reads a model file",
    "clone_model": "makes a model with another's architecture",
    "CallbackList": "calls the callbacks of a fit in order",
    "Loss": "wraps a registered loss function for the engine",
    "Gradient": "a registered loss's hand-written gradient",
    "mean_last": "a helper the loss functions share",
    "backward_from_output": "finds a registered activation's derivative",
    "accuracy_kind": "picks the accuracy that the name 'accuracy' means",
}


def _public(package):
    """The public classes and functions of `package`: its `__all__`, or else what it
    defines without a leading underscore."""
    names = getattr(package, "__all__", None)
    if names is None:
        names = [
            name
            for name, obj in vars(package).items()
            if not name.startswith("_") and getattr(obj, "__module__", None) == package.__name__
        ]
    return {
        name: getattr(package, name)
        for name in names
        if inspect.isclass(getattr(package, name)) or inspect.isfunction(getattr(package, name))
    }


def _snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _is_base_or_form(name, obj, registered):
    """An abstract base of registered classes, or a registered entry's own form (`registered`
    maps names to entries)."""
    if inspect.isclass(obj):
        return any(
            inspect.isclass(entry) and issubclass(entry, obj) and entry is not obj
            for entry in registered.values()
        )
    return any(name.startswith(f"{entry}_") or name == _snake_case(entry) for entry in registered)


@pytest.mark.parametrize("kind", list(PACKAGES))
def test_every_public_class_and_function_is_registered(kind):
    registered = registry.entries(kind)
    missing = [
        f"{PACKAGES[kind].__name__}.{name}"
        for name, obj in _public(PACKAGES[kind]).items()
        if obj not in registered.values()
        and name not in NOT_BUILDING_BLOCKS
        and not _is_base_or_form(name, obj, registered)
    ]
    assert not missing, (
        f"Not registered as {kind}s: {missing}. Decorate each where it is defined with "
        f'@registry.register("{kind}") (it then gets the contract checks of tests/contracts), '
        "or add it to NOT_BUILDING_BLOCKS with the reason it is not a building block."
    )


@pytest.mark.parametrize("kind", list(PACKAGES))
def test_every_registered_entry_is_public_under_its_name(kind):
    for name, obj in registry.entries(kind).items():
        assert getattr(PACKAGES[kind], name, None) is obj, f"{kind} {name}"


def test_every_alias_stands_for_a_registered_entry():
    for alias, name in activations.ALIASES.items():
        assert activations.get(alias) is registry.get("activation", name)
    for alias, name in losses.ALIASES.items():
        assert losses.get(alias).fn is registry.get("loss", name)
    for alias, name in metrics.ALIASES.items():
        metric = metrics.get(alias, losses.get("mse"), 1)
        assert type(metric) is registry.get("metric", name)
        assert metric.name == alias
    for alias, name in initializers.ALIASES.items():
        assert type(initializers.get(alias)) is registry.get("initializer", name)


@pytest.mark.parametrize("name", list(registry.entries("initializer")))
def test_an_initializer_is_found_by_keras_snake_case_name(name):
    assert type(initializers.get(_snake_case(name))) is registry.get("initializer", name)


@pytest.mark.parametrize("name", list(optimizers.CLASSES))
def test_an_update_rule_is_found_by_its_lowercase_name(name):
    assert type(optimizers.get(name.lower())) is registry.get("optimizer", name)


def test_accuracy_means_the_accuracy_that_fits_the_loss():
    for alias in metrics.ACCURACY_NAMES:
        metric = metrics.get(alias, losses.get("sparse_categorical_crossentropy"), 3)
        assert (type(metric), metric.kind, metric.name) == (metrics.Accuracy, "sparse", alias)


def test_every_spec_row_names_a_registered_entry():
    stale = [key for key in specs.SPECS if key[1] not in registry.entries(key[0])]
    assert not stale, f"Rows of tests/contracts/specs.py for unregistered entries: {stale}"
