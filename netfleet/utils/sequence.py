"""`PyDataset` (Keras 2's `Sequence`): a data set that hands out its batches by index, for
`fit`, `evaluate` and `predict` to read one batch per step."""

from netfleet.errors import argument_error, check_positive_int


class PyDataset:
    """Base class of data sets that give their batches by index, as Keras' `PyDataset`.

    A subclass writes `__len__` (the number of batches) and `__getitem__(index)` (batch
    `index`: `(x, y)` or `(x, y, sample_weight)` for `fit` and `evaluate`, `x` alone or with
    its targets for `predict`); `on_epoch_end` runs after every epoch (to reshuffle, for
    example). Every member of a fleet trains on the same batches, in this order. Subclasses
    written for Keras 2's `Sequence`, which never called `super().__init__()`, work as well.

    Args:
        workers: Keras' number of threads or processes reading batches ahead; accepted so
            Keras code runs: netfleet reads batches one after another. Defaults to `1`.
        use_multiprocessing: Keras' switch between threads and processes; accepted, without
            effect. Defaults to `False`.
        max_queue_size: Keras' number of batches read ahead; accepted, without effect.
            Defaults to `10`.

    Example:
        >>> import numpy as np
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size):
        ...         super().__init__()
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, index):
        ...         rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ...         return self.x[rows], self.y[rows]
        >>> batches = Batches(np.zeros((10, 2)), np.zeros(10), batch_size=4)
        >>> len(batches), batches[2][0].shape
        (3, (2, 2))
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = check_positive_int(workers, "workers", type(self).__name__)
        if not isinstance(use_multiprocessing, bool):
            raise argument_error(
                "use_multiprocessing", type(self).__name__, "True or False", use_multiprocessing
            )
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = check_positive_int(
            max_queue_size, "max_queue_size", type(self).__name__
        )

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index).")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__().")

    @property
    def num_batches(self):
        """The number of batches in an epoch (Keras 3's name for `len(dataset)`)."""
        return len(self)

    def on_epoch_begin(self):
        """Called before every epoch."""

    def on_epoch_end(self):
        """Called after every epoch."""

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]


Sequence = PyDataset  # Keras 2's name, kept by Keras 3 as an alias
