"""Layers: the building blocks of models, each with a leading member axis on its weights."""

from netfleet.layers.base import Layer
from netfleet.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer"]

CLASSES = {cls.__name__: cls for cls in (Activation, Dense, Dropout, Flatten, InputLayer)}


def deserialize(config):
    """Build a layer from `{"class_name": ..., "config": {...}}`, for built-in layers only."""
    from netfleet.errors import unknown_name_error

    cls = CLASSES.get(config.get("class_name"))
    if cls is None:
        raise unknown_name_error("layer class", config.get("class_name"), list(CLASSES))
    return cls.from_config(dict(config["config"]))
