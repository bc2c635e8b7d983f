"""What convolution and pooling layers share: their argument checks, Keras' output-length and
`"same"`-padding arithmetic, and the folding of the member axis into torch's channel axis.

Activations are channels-last `(L, batch, *spatial, channels)`, with L = M, or L = 1 when
every member sees the same batch. Folded, they are one channels-first tensor
`(batch, L * channels, *spatial)`: a pooling is then one call for every member, and a
convolution one grouped call (`groups=L`). Folding and unfolding are views when the layout
allows (a folded result comes back in torch's channels-last memory format), so a chain of
convolutions and poolings copies nothing between layers.
"""

import numbers

import torch.nn.functional as F

from netfleet.errors import InvalidArgumentError, argument_error

PADDINGS = ("valid", "same")


def int_tuple(value, rank, name, owner):
    """`value` (an int or `rank` ints, each >= 1) as a tuple of `rank` ints."""
    values = (value,) * rank if isinstance(value, numbers.Integral) else value
    expected = f"an integer >= 1 or a tuple of {rank} such integers"
    try:
        values = tuple(values)
    except TypeError:
        raise argument_error(name, owner, expected, value) from None
    if len(values) != rank or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise argument_error(name, owner, expected, value)
    return tuple(int(v) for v in values)


def padding_mode(padding, owner, allowed=PADDINGS):
    """`padding` lower-cased, if it is one of `allowed`."""
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in allowed:
        choices = ", ".join(f"'{p}'" for p in allowed)
        raise argument_error("padding", owner, f"one of {choices}", padding)
    return mode


def check_channels_last(data_format, owner):
    """netfleet's image layers read channels-last examples (Keras' default)."""
    if data_format not in (None, "channels_last"):
        raise argument_error(
            "data_format", owner, "'channels_last' (the only layout netfleet supports)", data_format
        )


def output_length(length, window, stride, dilation, padding):
    """Keras' output length of a sliding window; None for an unknown input length."""
    if length is None:
        return None
    if padding == "valid":
        return (length - dilation * (window - 1) - 1) // stride + 1
    return (length - 1) // stride + 1


def same_padding(length, window, stride, dilation):
    """Zeros (before, after) that make a `"same"` output: the odd one goes after, as in
    TensorFlow and Keras, so an even window looks one step further right than left."""
    out = (length - 1) // stride + 1
    total = max((out - 1) * stride + dilation * (window - 1) + 1 - length, 0)
    return total // 2, total - total // 2


def pad_spatial(x, pads, value=0.0):
    """Pad the trailing spatial axes of a channels-first `x` by `pads`: one
    (before, after) pair per axis, first axis first."""
    flat = [amount for before_after in reversed(pads) for amount in before_after]
    return F.pad(x, flat, value=value) if any(flat) else x


def crop_spatial(x, pads):
    """Undo `pad_spatial(x, pads)`: the trailing spatial axes of `x` without the padding
    (a backward pass's gradient of the padded input)."""
    crop = [slice(before, length - after) for (before, after), length in zip(pads, x.shape[2:])]
    return x[(..., *crop)]


def fold_members(x):
    """`(L, batch, *spatial, C)` → channels-first `(batch, L * C, *spatial)`."""
    lead, batch, *spatial, channels = x.shape
    folded = x.movedim(0, -2).reshape(batch, *spatial, lead * channels)
    return folded.movedim(-1, 1)


def unfold_members(y, lead):
    """Channels-first `(batch, L * C, *spatial)` → `(L, batch, *spatial, C)`."""
    batch, channels, *spatial = y.shape
    per_member = y.movedim(1, -1).reshape(batch, *spatial, lead, channels // lead)
    return per_member.movedim(-2, 0)


def check_spatial_rank(input_shape, rank, owner):
    """Inputs must be `(batch, *spatial, channels)` with `rank` spatial axes."""
    if len(input_shape) != rank + 2:
        axes = ", ".join(["batch", *(["steps"] if rank == 1 else ["height", "width"]), "channels"])
        raise InvalidArgumentError(
            f"{owner} expects inputs of rank {rank + 2} ({axes}), channels last. Got inputs "
            f"of shape {tuple(input_shape)}."
        )
