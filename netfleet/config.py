"""Where and how netfleet computes: the device that `fit`, `evaluate` and `predict` use, and
the precision of their forward passes.

The default device is automatic: the first CUDA device when PyTorch sees one, else the CPU.
The `NETFLEET_DEVICE` environment variable (`cpu`, `cuda`, `cuda:1`, `auto`) sets the default
for a process; `set_device` sets it from code, and `device_scope` for a block (what a
`device=` argument of a sweep, a search or the command line does). `set_precision("bf16")`
computes forward passes in bfloat16 (mixed precision; see docs/devices.md).

Example:
    >>> import netfleet as nf
    >>> with nf.config.device_scope("cpu"):
    ...     nf.config.get_device()
    device(type='cpu')
"""

import contextlib
import os

import torch

from netfleet.errors import argument_error

ENVIRONMENT_VARIABLE = "NETFLEET_DEVICE"
AUTO = "auto"

_chosen = None  # what set_device was given (None: the environment's or automatic choice)
PRECISIONS = ("float32", "bf16")
_precision = "float32"


def resolve(device, name="device", owner="set_device"):
    """The `torch.device` that `device` names: `"auto"` / None, `"cpu"`, `"cuda"`,
    `"cuda:N"`, or a `torch.device`; a clear error for anything else or a missing GPU."""
    if device is None or device == AUTO:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise argument_error(
            name, owner, "'auto', 'cpu', 'cuda' or 'cuda:N' (or a torch.device)", device
        ) from None
    if chosen.type not in ("cpu", "cuda"):
        raise argument_error(name, owner, "a CPU or CUDA device", device)
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise argument_error(
                name, owner, "a device this machine has (PyTorch sees no CUDA GPU here)", device
            )
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise argument_error(name, owner, f"a CUDA index below {count}", device)
        if chosen.index is None:  # "cuda" is the current CUDA device, named by its index
            chosen = torch.device("cuda", torch.cuda.current_device())
    return chosen


def set_device(device):
    """Compute on `device` from now on (`"auto"` restores the automatic choice)."""
    global _chosen
    resolve(device)  # checked now, not at the next fit
    _chosen = None if device is None or device == AUTO else device


def get_device():
    """The device computations run on now, as a `torch.device`."""
    if _chosen is not None:
        return resolve(_chosen)
    environment = os.environ.get(ENVIRONMENT_VARIABLE)
    if environment:
        return resolve(environment.strip(), ENVIRONMENT_VARIABLE, "the environment")
    return resolve(None)


@contextlib.contextmanager
def device_scope(device, owner="device_scope"):
    """Compute on `device` inside the block (None: leave the current choice alone); a bad
    `device` is the `device` argument of `owner` in the error."""
    global _chosen
    if device is None:
        yield get_device()
        return
    resolve(device, "device", owner)
    previous, _chosen = _chosen, device
    try:
        yield get_device()
    finally:
        _chosen = previous


def set_precision(precision):
    """Compute forward passes in `precision` from now on: `"float32"` (the default) or
    `"bf16"`: matrix products in bfloat16 under autocast, while weights, gradients,
    optimizer state, losses and metrics stay float32 (training then takes the autograd
    path)."""
    global _precision
    if precision not in PRECISIONS:
        raise argument_error("precision", "set_precision", "'float32' or 'bf16'", precision)
    _precision = precision


def get_precision():
    """The precision of forward passes now: `"float32"` or `"bf16"`."""
    return _precision
