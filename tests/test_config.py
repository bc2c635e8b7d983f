"""Device selection: automatic by default, then the environment, then set_device, with clear
errors for devices this machine does not have."""

import pytest
import torch

from netfleet import config
from netfleet.errors import InvalidArgumentError


@pytest.fixture(autouse=True)
def _automatic(monkeypatch):
    monkeypatch.delenv(config.ENVIRONMENT_VARIABLE, raising=False)
    config.set_device("auto")
    yield
    config.set_device("auto")


def test_the_default_is_cuda_when_present_else_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config.get_device().type == expected


def test_the_environment_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv(config.ENVIRONMENT_VARIABLE, "cpu")
    assert config.get_device() == torch.device("cpu")


def test_set_device_wins_over_the_environment_and_auto_restores_it(monkeypatch):
    monkeypatch.setenv(config.ENVIRONMENT_VARIABLE, "auto")
    config.set_device("cpu")
    assert config.get_device() == torch.device("cpu")
    config.set_device("auto")
    assert config.get_device() == config.resolve("auto")


def test_device_scope_restores_the_previous_choice():
    config.set_device("cpu")
    with config.device_scope("auto") as device:
        assert device == config.resolve("auto")
    assert config.get_device() == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu0", "tpu", 3.5, "mps"])
def test_unknown_devices_are_refused_with_the_library_sentence(bad):
    with pytest.raises(InvalidArgumentError, match="The 'device' argument of set_device must"):
        config.set_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    with pytest.raises(InvalidArgumentError, match="PyTorch sees no CUDA GPU"):
        config.set_device("cuda")
    monkeypatch.setenv(config.ENVIRONMENT_VARIABLE, "cuda:0")
    with pytest.raises(InvalidArgumentError, match="NETFLEET_DEVICE"):
        config.get_device()
