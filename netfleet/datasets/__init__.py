"""Small public data sets, loaded like ``keras.datasets``.

- ``mnist.load_data()``: MNIST digits as ``uint8`` arrays, from a local copy or the cache.
- ``fashion_mnist.load_data()``: Fashion-MNIST clothes, the same way.
- ``cifar10.load_data()``: CIFAR-10 colour images, from the official binary archive.
- ``banknotes.load_data()`` / ``load_frame()``: banknote authentication, bundled CSV.
- ``wines.load_data()`` / ``load_frame()``: UCI wine, bundled CSV.

Example:
    >>> from netfleet.datasets import banknotes
    >>> X, y = banknotes.load_data()
    >>> X.shape
    (1372, 4)
"""

from netfleet.datasets import banknotes, cifar10, fashion_mnist, mnist, wines

__all__ = ["banknotes", "cifar10", "fashion_mnist", "mnist", "wines"]
