"""Saving and loading: a model file (JSON config + safetensors weights in one zip) and
weights-only safetensors files, and Keras 3 `.keras` files of layers netfleet has. Nothing
is pickled; loading never runs code."""

from netfleet.saving.custom import custom_object_scope, register_keras_serializable
from netfleet.saving.files import load_model, load_weights, save_model, save_weights
from netfleet.saving.keras_files import load_keras_model

__all__ = [
    "custom_object_scope",
    "load_keras_model",
    "load_model",
    "load_weights",
    "register_keras_serializable",
    "save_model",
    "save_weights",
]
