"""Models: `Sequential`, the functional `Model` (and subclasses of it, as in Keras),
`clone_model`, and loading saved ones."""

from netfleet.models.cloning import clone_model
from netfleet.models.model import Model
from netfleet.models.sequential import Sequential
from netfleet.saving import load_model

__all__ = ["Model", "Sequential", "clone_model", "load_model"]
