"""Executors: where the fleet runner's groups train, in this process or as Ray tasks.

An executor is any object with `map(fn, groups)` that yields `fn(group)` for every group,
in any order, as each finishes. It may declare `max_members`, the most members one call of
`fn` may train: the runner (`netfleet.fleet.runner.run_groups`) then cuts larger groups
into consecutive parts, one call each, and puts their results together again.

- `LocalExecutor` trains the groups in this process, one after another.
- `RayExecutor` trains each group as one Ray task, on the Ray cluster this process is
  connected to, the one at `address`, or else a local instance it starts. Everything a task
  needs is pickled by Ray; the data the groups share (`x`, `y`, validation data, sample
  weights) go to Ray's object store once and reach each task by reference. A task whose
  worker dies (killed, out of memory) is retried by Ray; one that raises (a callback, a
  custom layer) is not: its error comes back with the members it was training.

Ray is optional (`pip install "netfleet[ray]"`): it is imported only by a `RayExecutor`.
"""

import dataclasses
import importlib
import numbers
import warnings

import numpy as np

from netfleet.errors import InvalidArgumentError, argument_error, check_positive_int

RAY_INSTALL = 'pip install "netfleet[ray]"'
# The data of a Group that every task of a run shares, shipped once: its own fields, then
# the `fit` arguments that hold arrays.
_GROUP_DATA = ("x", "y")
_FIT_DATA = ("validation_data", "sample_weight")


class LocalExecutor:
    """Trains the groups in this process, one after another."""

    def map(self, fn, groups):
        for group in groups:
            yield fn(group)


class RayExecutor:
    """Trains each group as one Ray task.

    The cluster is the one this process is already connected to (`ray.init(...)` was
    called), else the one at `address`, else the one `ray.init()` finds (`RAY_ADDRESS`, or
    a cluster started with `ray start` on this machine), else a local Ray instance started
    here (it stays up for later runs; `ray.shutdown()` stops it). Results come back as
    tasks finish; they equal `LocalExecutor`'s (the same seeded models, the same numbers).

    Args:
        address: The address of a running Ray cluster (`"auto"`, `"host:6379"`,
            `"ray://host:10001"`). Defaults to `None`: see above.
        num_cpus: CPUs each task reserves. Defaults to Ray's (1).
        num_gpus: GPUs each task reserves (fractions share a GPU). Defaults to none.
        max_members: The most members one task trains; a larger group is cut into several
            tasks. Defaults to `None` (a group is one task).
        max_retries: How many times Ray reruns a task whose worker died. A task that raised
            is never rerun. Defaults to `3`.

    Raises:
        ImportError: Ray is not installed.

    Example:
        >>> from netfleet.fleet import sweep
        >>> result = sweep(build, {"learning_rate": [0.01, 0.1]}, x, y,
        ...                executor=RayExecutor(num_cpus=2))  # doctest: +SKIP
    """

    def __init__(self, address=None, num_cpus=None, num_gpus=None, max_members=None, max_retries=3):
        if address is not None and not isinstance(address, str):
            raise argument_error("address", "RayExecutor", "a Ray address (str) or None", address)
        for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0
            ):
                raise argument_error(name, "RayExecutor", "a number >= 0 or None", value)
        if max_members is not None:
            check_positive_int(max_members, "max_members", "RayExecutor")
        check_positive_int(max_retries, "max_retries", "RayExecutor", minimum=0)
        import_ray("RayExecutor")  # missing: say so now, before any work
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.max_members = max_members
        self.max_retries = max_retries

    def map(self, fn, groups):
        """Submit one task per group at once; yield `fn(group)` as each task finishes."""
        groups = list(groups)
        if not groups:
            return
        ray = import_ray("RayExecutor")
        if not ray.is_initialized():
            ray.init(**({} if self.address is None else {"address": self.address}))
        resources = {
            name: value
            for name, value in (("num_cpus", self.num_cpus), ("num_gpus", self.num_gpus))
            if value is not None
        }
        task = ray.remote(_run_task).options(
            max_retries=self.max_retries, retry_exceptions=False, **resources
        )
        shared = _SharedData(ray)
        function = ray.put(fn)  # the hook and its data: once, not per task
        pending = []
        for group in groups:
            shell, names, data = _without_data(group)
            pending.append(task.remote(function, shell, names, *map(shared.ref, data)))
        try:
            while pending:
                (ready,), pending = ray.wait(pending, num_returns=1)
                # a task that raised raises here, as Ray's error that is also an instance of
                # the task's own error type, its message the task's traceback
                yield ray.get(ready)
        finally:
            for reference in pending:  # the run was interrupted: stop the tasks left
                ray.cancel(reference)


def import_ray(owner):
    """The `ray` module, or an ImportError that says how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError as error:
        raise ImportError(
            f"{owner} runs groups on Ray, which is not installed: {RAY_INSTALL}"
        ) from error


def resolve(executor, ray_address, owner):
    """The executor object that `executor=` and `ray_address=` of `owner` ask for.

    Args:
        executor: `"local"`, `"ray"` or an executor (an object with `map(fn, groups)`).
        ray_address: The address of the Ray cluster for `executor="ray"`, or None.
        owner: The caller's name, for error messages.
    """
    if isinstance(executor, str):
        if executor == "local":
            if ray_address is not None:
                raise InvalidArgumentError(
                    f"{owner} got ray_address={ray_address!r} with executor='local': pass "
                    "executor='ray' to run on that Ray cluster."
                )
            return LocalExecutor()
        if executor == "ray":
            return RayExecutor(address=ray_address)
    elif callable(getattr(executor, "map", None)):
        if ray_address is not None:
            raise InvalidArgumentError(
                f"{owner} got ray_address={ray_address!r} with an executor object: give the "
                "address to the executor itself, e.g. RayExecutor(address=...)."
            )
        return executor
    raise argument_error(
        "executor",
        owner,
        "'local', 'ray' or an executor (an object with map(fn, groups))",
        executor,
    )


class _SharedData:
    """Puts each distinct data object in Ray's object store once: the same object, or an
    array equal to one already put (targets encoded again for each group)."""

    def __init__(self, ray):
        self.ray = ray
        self.by_id = {}
        self.arrays = []

    def ref(self, value):
        if id(value) in self.by_id:
            return self.by_id[id(value)][1]
        if isinstance(value, np.ndarray):
            for array, reference in self.arrays:
                same_kind = array.shape == value.shape and array.dtype == value.dtype
                if same_kind and np.array_equal(array, value):
                    return reference
        reference = self.ray.put(value)
        self.by_id[id(value)] = (value, reference)  # keeps `value` alive: ids stay unique
        if isinstance(value, np.ndarray):
            self.arrays.append((value, reference))
        return reference


def _without_data(group):
    """`group` without its shared data; the names of what was taken out, and the values."""
    names = [*_GROUP_DATA, *(name for name in _FIT_DATA if group.fit.get(name) is not None)]
    data = [getattr(group, name) for name in _GROUP_DATA]
    data += [group.fit[name] for name in names[len(_GROUP_DATA) :]]
    fit = {name: value for name, value in group.fit.items() if name not in names}
    return dataclasses.replace(group, x=None, y=None, fit=fit), names, data


def _run_task(fn, shell, names, *data):
    """The body of a Ray task: `fn` on the group, its data filled in from the object store.

    Arrays from the object store are read-only; netfleet never writes into its inputs, so
    torch's warning about tensors made from them is silenced.
    """
    values = dict(zip(names, data))
    fit = {**shell.fit, **{name: values[name] for name in names if name in _FIT_DATA}}
    group = dataclasses.replace(shell, x=values["x"], y=values["y"], fit=fit)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return fn(group)
