"""Small public data sets, loaded like ``keras.datasets``.

- ``mnist.load_data()``: MNIST digits as ``uint8`` arrays, from a local copy or the cache.
- ``banknotes.load_data()`` / ``load_frame()``: banknote authentication, bundled CSV.
- ``wines.load_data()`` / ``load_frame()``: UCI wine, bundled CSV.

Example:
    >>> from netfleet.datasets import banknotes
    >>> X, y = banknotes.load_data()
    >>> X.shape
    (1372, 4)
"""

from netfleet.datasets import banknotes, mnist, wines

__all__ = ["banknotes", "mnist", "wines"]
