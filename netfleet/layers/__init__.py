"""Layers: the building blocks of models, each with a leading member axis on its weights."""

from netfleet import registry
from netfleet.errors import unknown_name_error
from netfleet.layers.base import Layer
from netfleet.layers.convolutional import Conv1D, Conv2D
from netfleet.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from netfleet.layers.embedding import Embedding
from netfleet.layers.lambda_layer import Lambda
from netfleet.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from netfleet.layers.normalization import BatchNormalization, LayerNormalization, Normalization
from netfleet.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from netfleet.layers.preprocessing import Rescaling
from netfleet.layers.reshaping import Reshape

__all__ = [
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "BatchNormalization",
    "Concatenate",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "MaxPooling1D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "Normalization",
    "Rescaling",
    "Reshape",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]


def deserialize(config):
    """Build a layer from `{"class_name": ..., "config": {...}}`, for registered layers only."""
    classes = registry.entries("layer")
    cls = classes.get(config.get("class_name"))
    if cls is None:
        error = unknown_name_error("layer class", config.get("class_name"), list(classes))
        raise type(error)(
            f"{error} A layer class of your own: pass it to load_model(..., custom_objects="
            "{name: class}) or decorate it with @netfleet.saving.register_keras_serializable()."
        )
    return cls.from_config(dict(config["config"]))
