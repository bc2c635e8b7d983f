"""Keras 3's options that every optimizer applies before its update rule, member by member:
gradient clipping (each weight's gradient by its own norm, all of a member's gradients by
their global norm, or each value) and decoupled weight decay."""

import torch


class GradientOptions:
    """The clipping and weight decay of the members of one `(M, P)` buffer.

    Keras' formulas, each member with its own setting (None: off, which leaves that
    member's values exactly as they are)::

        g = g * clipnorm / max(norm(g of one weight), clipnorm)            clipnorm
        g = g * global_clipnorm * min(1 / norm(g), 1 / global_clipnorm)   global_clipnorm
        g = clip(g, -clipvalue, clipvalue)                                 clipvalue
        w = w - w * weight_decay * learning_rate                           weight_decay

    Args:
        values: One value per member (None: off) of each option present.
        segments: The `(start, end)` columns of each weight in a row of the buffer, which
            `clipnorm` clips one by one; None: the whole row is one weight.
        data: The buffer `(M, P)`.
    """

    def __init__(self, values, segments, data):
        device = data.device
        segments = segments or [(0, data.shape[1])]
        self.segment_count = len(segments)
        self.segment_ids = torch.repeat_interleave(
            torch.arange(len(segments), device=device),
            torch.tensor([end - start for start, end in segments], device=device),
            output_size=data.shape[1],
        )
        self.clipnorm, self.clipnorm_on = _per_member(values.get("clipnorm"), device)
        self.global_clipnorm, self.global_on = _per_member(values.get("global_clipnorm"), device)
        self.clipvalue, _ = _per_member(values.get("clipvalue"), device, off=float("inf"))
        decay = values.get("weight_decay")
        if decay is not None and not any(decay):
            decay = None  # zero or off for every member: nothing to do
        self.weight_decay, _ = _per_member(decay, device, off=0.0)

    @classmethod
    def build(cls, values, segments, data):
        """The options of `values` (`{option: one value per member}`), or None when no
        member sets any: then an optimizer step does no extra work."""
        if all(value is None or value == 0.0 for column in values.values() for value in column):
            return None
        return cls(values, segments, data)

    def apply(self, data, grad, learning_rate):
        """Decay `data` in place; return the clipped gradient (a new tensor)."""
        if self.clipnorm is not None:
            squares = grad.new_zeros(grad.shape[0], self.segment_count)
            norms = squares.index_add_(1, self.segment_ids, grad * grad).sqrt_()
            scale = _where(self.clipnorm_on, self.clipnorm / torch.maximum(norms, self.clipnorm))
            grad = grad * scale.index_select(1, self.segment_ids)
        if self.global_clipnorm is not None:
            norm = (grad * grad).sum(1, keepdim=True).sqrt_()
            clip = self.global_clipnorm
            scale = clip * torch.minimum(1.0 / norm, 1.0 / clip) + (norm - norm)
            grad = grad * _where(self.global_on, scale)
        if self.clipvalue is not None:
            grad = torch.clamp(grad, -self.clipvalue, self.clipvalue)
        if self.weight_decay is not None:
            data.sub_(data * self.weight_decay * learning_rate)
        return grad


def _per_member(values, device, off=1.0):
    """`(M, 1)` values with `off` for members without the option, and the mask of the
    members with it (None when all have it); `(None, None)` when none has it."""
    if values is None or all(value is None for value in values):
        return None, None
    on = [value is not None for value in values]
    tensor = torch.tensor([[off if v is None else v] for v in values], device=device)
    mask = None if all(on) else torch.tensor(on, device=device).view(-1, 1)
    return tensor, mask


def _where(mask, scale):
    """`scale` for members with the option, exactly 1 for the others."""
    return scale if mask is None else torch.where(mask, scale, 1.0)
