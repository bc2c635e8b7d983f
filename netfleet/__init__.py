"""netfleet: Keras-style deep learning on PyTorch, where any model can be a fleet of
members trained together as one batched computation."""

from netfleet import (
    activations,
    backend,
    callbacks,
    config,
    datasets,
    fleet,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    utils,
    wrappers,
)
from netfleet.layers import Input
from netfleet.models import Model, Sequential, load_model
from netfleet.version import __version__

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "__version__",
    "activations",
    "backend",
    "callbacks",
    "config",
    "datasets",
    "fleet",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "utils",
    "wrappers",
]
