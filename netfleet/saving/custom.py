"""User-defined layers in model files, as Keras names them: `register_keras_serializable`
(once, where the class is defined) or `custom_objects` / `custom_object_scope` (for one load).

A model file names a layer by its class name and rebuilds it with `from_config(get_config())`;
only classes registered or handed to the load are ever looked up, never an importable path.

Example:
    >>> import netfleet
    >>> class Scale(netfleet.layers.Layer):
    ...     def __init__(self, factor=2.0, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.factor = factor
    ...     def call(self, inputs, training=False):
    ...         return inputs * self.factor
    >>> with custom_object_scope({"Scale": Scale}):
    ...     netfleet.registry.get("layer", "Scale") is Scale
    True
    >>> "Scale" in netfleet.registry.entries("layer")
    False
"""

import contextlib

from netfleet import registry
from netfleet.errors import InvalidTypeError
from netfleet.layers.base import Layer


def register_keras_serializable(package="Custom", name=None):
    """Decorator: let model files name this `Layer` subclass (by `name`, its class name by
    default). `package` is accepted for Keras' signature; netfleet's files name layers by
    class name alone, so two registered layers cannot share one."""
    if not isinstance(package, str):
        raise InvalidTypeError(f"package must be a string. Got {type(package).__name__}.")

    def decorate(cls):
        return registry.register(_kind(cls, name or getattr(cls, "__name__", "?")), name)(cls)

    return decorate


@contextlib.contextmanager
def custom_object_scope(*scopes):
    """Within the block, model files may name the layer classes of `scopes` (dicts of name
    -> class, or None), as Keras' `custom_object_scope`."""
    extra = {}
    for objects in scopes:
        for key, obj in (objects or {}).items():
            extra.setdefault(_kind(obj, key), {})[key] = obj
    with registry.scoped(extra):
        yield


def _kind(obj, name):
    """The registry kind of `obj`: layer classes only (netfleet files name no other code)."""
    if isinstance(obj, type) and issubclass(obj, Layer):
        return "layer"
    raise InvalidTypeError(
        f"Custom object {name!r} is a {type(obj).__name__}; model files can name custom "
        "Layer subclasses only (a custom loss, metric or activation cannot be saved by name)."
    )
