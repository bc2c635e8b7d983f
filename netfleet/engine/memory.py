"""How much memory a fleet needs, estimated from its layer shapes before anything is
allocated, and how many of its members fit on the device at once.

Per member, training holds its weights, their gradients, the optimizer's slots and the
temporaries of an update (about two more copies of the weights), and for one batch the
activations of every layer: each value, its gradient and a temporary. The weights and state
of every member stay on the device; a fleet whose activations for all members do not fit in
what is left computes them a slice of members at a time (`engine.chunks`).

Example:
    >>> from netfleet.models import Sequential
    >>> from netfleet.layers import Dense
    >>> model = Sequential([Dense(32, input_shape=(784,)), Dense(10)])
    >>> needs = estimate(model, batch_size=128, slots_per_weight=2)
    >>> needs.state_bytes  # weights, gradients, 2 slots, 2 temporaries: 6 x 25,450 floats
    610800
"""

import math
import os

import torch

from netfleet.errors import InvalidArgumentError

FLOAT_BYTES = 4
UPDATE_TEMPORARIES = 2  # copies of the weights an optimizer step allocates
TRAINING_COPIES = 3  # per activation while training: the value, its gradient, a temporary
INFERENCE_COPIES = 2  # per activation in a forward pass: a layer's input and output
DEVICE_FRACTION = 0.85  # of a GPU's free memory that a fit may plan to use
HOST_FRACTION = 0.75  # of the available RAM, on the CPU
UNKNOWN_SLOTS = 3  # slots per weight assumed for an optimizer that cannot be probed


class Needs:
    """One member's memory, in bytes.

    Attributes:
        state_bytes: Weights, gradients, optimizer slots and update temporaries.
        activation_bytes: The activations of one batch (training or inference).
    """

    def __init__(self, state_bytes, activation_bytes):
        self.state_bytes = int(state_bytes)
        self.activation_bytes = int(activation_bytes)


def _size(shape):
    """Values in one example of `shape` (unknown dimensions count as 1)."""
    return math.prod(1 if d is None else int(d) for d in shape)


def weight_counts(model):
    """`(trainable, other)`: one member's trainable weights and other weights, in values."""
    trainable = other = 0
    for layer in model.layers:
        names = set(layer.trainable_weight_names)
        for name in layer.weight_names:
            count = math.prod(getattr(layer, name).shape[1:])
            if name in names:
                trainable += count
            else:
                other += count
    return trainable, other


def activation_count(model):
    """Values per example that a forward pass produces: each input and each layer output."""
    inputs = sum(_size(tensor.shape[1:]) for tensor in model.inputs)
    outputs = sum(_size(tensor.shape[1:]) for node in model.nodes for tensor in node.outputs)
    return inputs + outputs


def estimate(model, batch_size, slots_per_weight, training=True):
    """One member's `Needs` for batches of `batch_size` with an optimizer holding
    `slots_per_weight` values per trainable weight (`training=False`: a forward pass only,
    no state beyond the weights)."""
    trainable, other = weight_counts(model)
    if training:
        state = trainable * (2 + slots_per_weight + UPDATE_TEMPORARIES) + other
        copies = TRAINING_COPIES
    else:
        state, copies = trainable + other, INFERENCE_COPIES
    activations = activation_count(model) * batch_size * copies
    return Needs(state * FLOAT_BYTES, activations * FLOAT_BYTES)


def slots_per_weight(optimizer, data):
    """Values the optimizer keeps per trainable weight: counted on its slots when it is
    built for `data`, else on a fresh copy built for a two-weight probe."""
    if optimizer.is_built_for(data):
        slots, weights = optimizer.slots.values(), data.numel()
    else:
        try:
            probe = type(optimizer).from_config(optimizer.get_config())
            probe.build(torch.zeros(probe.num_members, 2))
        except (TypeError, ValueError, NotImplementedError):  # a custom schedule without a
            # config cannot be copied: assume the most slots netfleet's rules keep
            return UNKNOWN_SLOTS
        slots, weights = probe.slots.values(), probe.num_members * 2
    return sum(slot.numel() for slot in slots) / weights


def available_bytes(device):
    """What a fit may plan to use on `device`: a share of the GPU's free memory (with what
    PyTorch holds in its cache but does not use), or of the available RAM on the CPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int((free + cached) * DEVICE_FRACTION)
    free = _host_available()
    return None if free is None else int(free * HOST_FRACTION)


def _host_available():
    """The RAM the system can give without swapping: psutil's figure when it is installed,
    else Linux's `MemAvailable` (free pages plus reclaimable caches), else the free pages;
    None when none is known (then no limit applies)."""
    try:
        import psutil
    except ImportError:
        pass
    else:
        return psutil.virtual_memory().available
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows)
        return None


def members_per_chunk(members, needs, available, resident_bytes=0):
    """How many members' activations fit beside every member's state in `available` bytes
    (`resident_bytes` of that state already sit on the device); None when all fit.

    Raises:
        InvalidArgumentError: not even one member fits.
    """
    if available is None:
        return None
    state = max(0, members * needs.state_bytes - resident_bytes)
    room = available - state
    fits = room // needs.activation_bytes if needs.activation_bytes else members
    if fits >= members:
        return None
    if fits < 1:
        raise InvalidArgumentError(
            f"This fleet of {members} members does not fit the device: its weights and "
            f"optimizer state need {_readable(state)}, and each member's activations "
            f"{_readable(needs.activation_bytes)} per batch, with {_readable(available)} available. "
            "Train fewer members at a time (smaller groups), or use a smaller batch size."
        )
    return int(fits)


def training_chunk(model, store, optimizer, batch_size, device):
    """Members per chunk for training `model` (its packed `store`, its `optimizer`) on
    `device` with batches of `batch_size`, or None when every member fits at once."""
    needs = estimate(model, batch_size, slots_per_weight(optimizer, store.data))
    resident = _resident_bytes(store, optimizer, device)
    return members_per_chunk(store.data.shape[0], needs, available_bytes(device), resident)


def _resident_bytes(store, optimizer, device):
    """The bytes of the training state already on `device` (the free memory leaves them out)."""
    if store.data.device != device:
        return 0
    resident = 2 * store.data.numel()
    if optimizer.is_built_for(store.data):
        resident += sum(slot.numel() for slot in optimizer.slots.values())
    return resident * FLOAT_BYTES


def inference_chunk(model, batch_size, device):
    """Members per chunk for a forward pass of `model` (its weights already on `device`)
    over batches of `batch_size`, or None when every member fits at once."""
    needs = estimate(model, batch_size, 0, training=False)
    members = model.num_members
    resident = members * needs.state_bytes
    return members_per_chunk(members, needs, available_bytes(device), resident)


def _readable(count):
    """`count` bytes in the largest unit that keeps a number >= 1."""
    for unit in ("bytes", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.2f} GiB"
