"""The state of the forward pass that layers may read: training or inference, and the
per-member random generators (grouped by seed, so members that share one draw once)."""

import contextlib
import contextvars

import torch

_current = contextvars.ContextVar("netfleet_forward_context", default=None)


class ForwardContext:
    """Training flag and dropout generators of one forward pass over M members."""

    def __init__(self, training, generators=(), member_group=None):
        self.training = training
        self.generators = list(generators)
        self.member_group = member_group

    def bernoulli(self, member_shape, keep_prob):
        """A {0, 1} mask [M, *member_shape]: one draw per generator group, shared within it."""
        masks = torch.stack(
            [torch.empty(member_shape).bernoulli_(keep_prob, generator=g) for g in self.generators]
        )
        return masks if self.member_group is None else masks[self.member_group]


@contextlib.contextmanager
def forward_context(context):
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def current():
    """The active context, or an inference one outside any forward pass."""
    return _current.get() or ForwardContext(training=False)
