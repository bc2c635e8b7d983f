"""Keras' `keras.wrappers` names, so course code runs with only its imports changed.

`netfleet.wrappers.scikit_learn` is reachable after `import netfleet` alone; it is imported
on first use, as it imports scikit-learn, which `import netfleet` does not.
"""

import importlib

__all__ = ["scikit_learn"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
