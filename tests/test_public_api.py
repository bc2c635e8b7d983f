"""The public API: every name in `__all__` resolves, the course's Keras import paths work
with only `keras` replaced by `netfleet`, and `import netfleet` stays light."""

import importlib
import pkgutil
import subprocess
import sys

import pytest

import netfleet

PUBLIC_SUBPACKAGES = ["callbacks", "datasets", "fleet", "layers", "models", "optimizers", "utils"]


def _subpackages():
    return sorted(
        name for _, name, is_package in pkgutil.iter_modules(netfleet.__path__) if is_package
    )


def test_top_level_all_resolves():
    assert len(netfleet.__all__) == len(set(netfleet.__all__))
    for name in netfleet.__all__:
        assert hasattr(netfleet, name), name
    assert netfleet.__version__ == "0.1.0"


@pytest.mark.parametrize("name", PUBLIC_SUBPACKAGES)
def test_public_subpackages_declare_all(name):
    module = importlib.import_module(f"netfleet.{name}")
    assert isinstance(module.__all__, list) and module.__all__


@pytest.mark.parametrize("name", _subpackages())
def test_each_subpackages_all_resolves(name):
    module = importlib.import_module(f"netfleet.{name}")
    exported = getattr(module, "__all__", [])
    assert len(exported) == len(set(exported))
    for attribute in exported:
        assert hasattr(module, attribute), f"netfleet.{name}.{attribute}"


@pytest.mark.parametrize("name", ["metrics"])
def test_module_all_resolves(name):
    module = importlib.import_module(f"netfleet.{name}")
    for attribute in module.__all__:
        assert hasattr(module, attribute), f"netfleet.{name}.{attribute}"


def test_the_lectures_imports():
    from netfleet.layers import Activation, Dense
    from netfleet.models import Sequential

    assert Sequential([Dense(32, input_shape=(784,)), Activation("relu")]).count_params() == 25120


def test_the_notebooks_imports():
    import netfleet.backend as K
    from netfleet.layers import Activation, Dense  # noqa: F401
    from netfleet.models import Sequential  # noqa: F401
    from netfleet.optimizers import SGD, Adagrad, Adam, RMSprop

    assert callable(K.clear_session) and callable(K.function)
    optimizers = [
        SGD(learning_rate=0.01),
        SGD(learning_rate=0.01, momentum=0.3),
        SGD(learning_rate=0.01, momentum=0.3, nesterov=True),
        Adam(learning_rate=0.01),
        Adagrad(learning_rate=0.01),
        RMSprop(learning_rate=0.01),
    ]
    assert [type(o).__name__ for o in optimizers] == [
        "SGD",
        "SGD",
        "SGD",
        "Adam",
        "Adagrad",
        "RMSprop",
    ]


def test_utils_and_datasets_imports():
    from netfleet.datasets import mnist
    from netfleet.utils import to_categorical

    assert callable(mnist.load_data)
    assert to_categorical([0, 2], 3).tolist() == [[1, 0, 0], [0, 0, 1]]


def test_the_callbacks_of_the_exercises_import():
    from netfleet.callbacks import Callback, EarlyStopping, ModelCheckpoint, TensorBoard

    for cls in (EarlyStopping, ModelCheckpoint, TensorBoard):
        assert issubclass(cls, Callback)


def test_top_level_shortcuts():
    from netfleet import Input, Model, Sequential, load_model

    assert netfleet.models.Model is Model and netfleet.models.Sequential is Sequential
    assert callable(Input) and callable(load_model)


def test_fleets_are_part_of_the_top_level_api_and_their_planners_are_not():
    assert "fleet" in netfleet.__all__
    assert callable(netfleet.fleet.sweep) and callable(netfleet.fleet.stack)
    assert netfleet.fleet.__all__ == [
        "Halving",
        "LocalExecutor",
        "RayExecutor",
        "SweepResult",
        "expand_grid",
        "stack",
        "sweep",
        "unstack",
    ]
    for planner in ("group_indices", "run_groups", "route", "Group", "Member"):
        assert planner not in netfleet.fleet.__all__


def test_import_netfleet_imports_only_torch_and_numpy_eagerly():
    code = (
        "import sys, netfleet\n"
        "heavy = sorted(m for m in ('matplotlib', 'sklearn', 'pandas', 'tensorboard', 'tensorflow', 'keras') "
        "if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == ""
