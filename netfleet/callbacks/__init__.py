"""Callbacks: objects called at the hooks of fit, with Keras' names."""

from netfleet.callbacks.base import Callback, CallbackList
from netfleet.engine.history import History

__all__ = ["Callback", "CallbackList", "History"]
