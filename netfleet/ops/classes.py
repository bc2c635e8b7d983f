"""Softmax, log-softmax and argmax over the class axis (the last), fast for a few classes.

PyTorch's CPU kernels reduce the last axis row by row in vectors of 16 floats (two of 8 on
AVX2); a row shorter than that, such as MNIST's 10 classes, takes a partial-vector path at
about 70 ns a row: 0.15 ms for a 16-member fleet's `(16, 128, 10)` outputs, a sixth of its
training step. Padded to 16 with -inf (which softmax maps to 0), rows take the full-vector
path, 3 to 5 times faster from a few thousand rows but slower for a few dozen. So batches of
at least `PADDED_FROM` rows per member are padded: the choice depends on a member's own
rows, never on the number of members, and every row of a batch takes the same path, so a
member computes the same bits alone and in a fleet. `argmax` picks the faster of two kernels
that give the same indices. Other devices and longer rows use PyTorch's kernels as they are.
"""

import torch
import torch.nn.functional as F

ROW = 16  # floats in a full row: one AVX-512 vector, two AVX2 ones
PADDED_FROM = 128  # rows per member from which padded rows are the faster
MANY_ROWS = 1024  # rows from which `max(-1).indices` beats `argmax(-1)`


def _padded(x):
    """`x` `(M, rows, ..., classes)` with its classes padded to `ROW` with -inf, or `None`
    where padding does not pay."""
    classes = x.shape[-1]
    if classes >= ROW or not x.is_cpu or x.ndim < 3:
        return None
    if x.numel() // x.shape[0] < PADDED_FROM * classes:
        return None
    return F.pad(x, (0, ROW - classes), value=float("-inf"))


def softmax(x):
    """`torch.softmax(x, -1)`, on padded rows where that is faster (see the module)."""
    padded = _padded(x)
    if padded is None:
        return torch.softmax(x, -1)
    return torch.softmax(padded, -1)[..., : x.shape[-1]].contiguous()


def log_softmax(x):
    """`torch.log_softmax(x, -1)`, on padded rows where that is faster (see the module)."""
    padded = _padded(x)
    if padded is None:
        return torch.log_softmax(x, -1)
    return torch.log_softmax(padded, -1)[..., : x.shape[-1]].contiguous()


def argmax(x):
    """`x.argmax(-1)` (the first largest value; NaN counts as largest), by the faster of two
    kernels for its shape."""
    classes = x.shape[-1]
    if x.is_cpu and classes < ROW and x.numel() >= MANY_ROWS * classes:
        return x.max(-1).indices
    return x.argmax(-1)
