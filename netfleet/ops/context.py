"""The state of the forward pass that layers may read: training or inference, the
per-member random generators (grouped by seed, so members that share one draw once), and
which members are being trained in this step."""

import contextlib
import contextvars

import torch

_current = contextvars.ContextVar("netfleet_forward_context", default=None)


class ForwardContext:
    """Training flag, dropout generators and trained members of one forward pass over M
    members.

    `active` (a bool tensor (M,), or None for all) marks the members this training step
    updates: a layer keeps the state of the others as it is (BatchNormalization's moving
    statistics of a stopped member, or of a member without rows in the step). The training
    loop sets it before each step.
    """

    def __init__(self, training, generators=(), member_group=None, active=None):
        self.training = training
        self.generators = list(generators)
        self.member_group = member_group
        self.active = active
        self.counts = None  # each member's real rows in a padded step (one generator each)

    def draws_masks(self):
        """Whether `bernoulli` has the members' generators: a training pass of `fit` does;
        `model(x, training=True)` runs without them (dropout then draws from PyTorch's global
        generator)."""
        return bool(self.generators)

    def bernoulli(self, member_shape, keep_prob):
        """A {0, 1} mask [M, *member_shape]: one draw per generator group, shared within it,
        on each generator's device. In a padded step (`counts` set), each member draws for
        its real rows only and zeros fill the padding: the numbers its separate run draws."""
        if self.counts is not None:
            return rows_bernoulli(self.generators, self.counts, member_shape, keep_prob)
        masks = torch.stack(
            [
                torch.empty(member_shape, device=g.device).bernoulli_(keep_prob, generator=g)
                for g in self.generators
            ]
        )
        return masks if self.member_group is None else masks[self.member_group]


def rows_bernoulli(generators, counts, member_shape, keep_prob):
    """One mask per generator for its member's first `count` rows (batch axis first)."""
    masks = []
    for generator, count in zip(generators, counts):
        mask = torch.zeros(member_shape, device=generator.device)
        if count:
            mask[:count].bernoulli_(keep_prob, generator=generator)
        masks.append(mask)
    return torch.stack(masks)


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
