"""Oracles shared by the optimizer tests: one random problem, three ways to run it.

A problem is a starting buffer `w0` (M, P) and `STEPS` gradients (STEPS, M, P), drawn in
float32 and returned as float64, so the float64 references start from exactly the values
netfleet sees. Every runner returns the trajectory: the weights after each step,
(steps, M, P) float64.
"""

import numpy as np
import torch

STEPS = 20
TOLERANCE = 1e-6


def problem(members=1, params=13, steps=STEPS, seed=0):
    """A random starting buffer and random gradients, float32 values held in float64."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal((members, params)).astype(np.float32)
    grads = rng.standard_normal((steps, members, params)).astype(np.float32)
    return w0.astype(np.float64), grads.astype(np.float64)


def run_netfleet(optimizer, w0, grads, active=None):
    """Run a netfleet optimizer in float32, the whole (M, P) buffer at once."""
    data = torch.tensor(w0, dtype=torch.float32)
    optimizer.build(data)
    trajectory = []
    for g in grads:
        optimizer.apply(data, torch.tensor(g, dtype=torch.float32), active=active)
        trajectory.append(data.clone())
    return torch.stack(trajectory).double().numpy()


def run_torch(optimizer_class, w0, grads, **settings):
    """Run a `torch.optim` optimizer in float64 on the same problem."""
    param = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([param], **settings)
    trajectory = []
    for g in grads:
        param.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        trajectory.append(param.detach().clone())
    return torch.stack(trajectory).numpy()


def run_formula(rule, w0, grads, **hyperparameters):
    """Run `rule(w, g, t, state, **hyperparameters)`, a formula written in NumPy that updates
    `w` in place and keeps its slots in the dict `state`, in float64."""
    w, state, trajectory = w0.copy(), {}, []
    for t, g in enumerate(grads, start=1):
        rule(w, g, t, state, **hyperparameters)
        trajectory.append(w.copy())
    return np.stack(trajectory)


def assert_trajectories_close(actual, expected, tolerance=TOLERANCE):
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def keras_golden_run(optimizer):
    """Keras' `test_correctness_with_golden` scenario: ten weights at one, a first step with
    gradients 0.01, then four steps with gradients 0.1, 0.2, ..., 1.0. Returns the five
    (10,) rows Keras checks."""
    w0 = np.ones((1, 10))
    grads = np.stack([np.full((1, 10), 0.01)] + [np.linspace(0.1, 1.0, 10)[None]] * 4)
    return run_netfleet(optimizer, w0, grads)[:, 0]


def keras_single_step(optimizer):
    """Keras' `test_single_step` scenario: one step from [1, 2, 3, 4] with gradients
    [1, 6, 7, 2]."""
    w0 = np.array([[1.0, 2.0, 3.0, 4.0]])
    grads = np.array([[[1.0, 6.0, 7.0, 2.0]]])
    return run_netfleet(optimizer, w0, grads)[0, 0]
