"""Saving and loading: a model file (JSON config + safetensors weights in one zip) and
weights-only safetensors files. Nothing is pickled; loading never runs code."""

from netfleet.saving.files import load_model, load_weights, save_model, save_weights

__all__ = [
    "load_model",
    "load_weights",
    "save_model",
    "save_weights",
]
