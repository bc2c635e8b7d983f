"""Models: `Sequential`, the functional `Model`, and loading saved ones."""

from netfleet.models.model import Model
from netfleet.models.sequential import Sequential


def load_model(filepath, compile=True):
    """Load a model saved with `model.save(filepath)` (JSON config + safetensors weights)."""
    from netfleet.saving import load_model as _load

    return _load(filepath, compile=compile)


__all__ = ["Model", "Sequential", "load_model"]
