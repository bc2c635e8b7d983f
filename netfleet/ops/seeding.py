"""Random number generators: the global one that draws initial weights and model seeds,
and the per-member ones that shuffle and drop out, so a member trained in a fleet follows
the trajectory it would follow alone."""

import random

import numpy as np
import torch

_global = torch.Generator()
_global.seed()


def set_random_seed(seed):
    """Seed Python, NumPy, PyTorch and netfleet, so that CPU runs repeat bit for bit."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(
            f"The 'seed' argument of set_random_seed must be an int >= 0. Got {seed!r}."
        )
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    _global.manual_seed(seed)


def global_generator():
    """The generator that initial weights are drawn from."""
    return _global


def draw_seed():
    """A fresh model seed from the global generator (repeatable after set_random_seed)."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=_global))


def member_generator(seed, stream):
    """A generator for one member and one purpose (`stream`: 0 shuffle, 1 dropout)."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + stream) % 2**63)


def device_generators(generators, device):
    """Generators on `device` (a GPU), one per CPU generator in `generators`, each seeded
    with a draw from it: a member's masks then come from its own stream on the device, and
    that stream continues across `fit` calls (and model files) as its CPU generator does."""
    return [
        torch.Generator(device=device).manual_seed(
            int(torch.randint(0, 2**63 - 1, (1,), generator=generator))
        )
        for generator in generators
    ]


SHUFFLE = 0
DROPOUT = 1
