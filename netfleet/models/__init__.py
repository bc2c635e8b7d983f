"""Models: `Sequential`, the functional `Model`, and loading saved ones."""

from netfleet.models.model import Model
from netfleet.models.sequential import Sequential
from netfleet.saving import load_model

__all__ = ["Model", "Sequential", "load_model"]
