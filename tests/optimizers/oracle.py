"""Oracles shared by the optimizer tests: one random problem, four ways to run it.

A problem is a starting buffer `w0` (M, P) and `STEPS` gradients (STEPS, M, P), drawn in
float32 and returned as float64, so the float64 references start from exactly the values
netfleet sees. Every runner returns the trajectory: the weights after each step,
(steps, M, P) float64: netfleet itself, `torch.optim`, a documented formula written in
NumPy (with Keras 3's options and schedules around it, as its base optimizer applies them),
and Keras 3 itself (on TensorFlow, where installed: the tests that need it skip otherwise).
"""

import os

import numpy as np
import pytest
import torch

from netfleet.optimizers.schedules import LearningRateSchedule

STEPS = 20
TOLERANCE = 1e-6
KERAS_TOLERANCE = 1e-5  # Keras computes in float32 too, with its own order of operations

# Keras 3's options in an optimizer config when none is set.
OPTIONS_OFF = {"weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None}


def problem(members=1, params=13, steps=STEPS, seed=0):
    """A random starting buffer and random gradients, float32 values held in float64."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal((members, params)).astype(np.float32)
    grads = rng.standard_normal((steps, members, params)).astype(np.float32)
    return w0.astype(np.float64), grads.astype(np.float64)


def run_netfleet(optimizer, w0, grads, active=None, segments=None):
    """Run a netfleet optimizer in float32, the whole (M, P) buffer at once; `segments`:
    the `(start, end)` columns of each weight (one weight per row without)."""
    data = torch.tensor(w0, dtype=torch.float32)
    optimizer.build(data, segments)
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


def run_formula(
    rule,
    w0,
    grads,
    segments=None,
    schedule=None,
    weight_decay=None,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    **hyperparameters,
):
    """Run `rule(w, g, t, state, **hyperparameters)`, a formula written in NumPy that updates
    `w` in place and keeps its slots in the dict `state`, in float64.

    Around it, Keras 3's base optimizer: the learning rate `schedule(t - 1)` (the step count
    before the step) when a schedule is given, the gradient clipped (`keras_clip`), and the
    weights decayed, `w -= w * weight_decay * learning_rate`, before the rule.
    """
    w, state, trajectory = w0.copy(), {}, []
    for t, g in enumerate(grads, start=1):
        settings = dict(hyperparameters)
        if schedule is not None:
            settings["learning_rate"] = schedule(t - 1)
        g = keras_clip(g, segments, clipnorm, clipvalue, global_clipnorm)
        if weight_decay is not None:
            w -= w * weight_decay * settings["learning_rate"]
        rule(w, g, t, state, **settings)
        trajectory.append(w.copy())
    return np.stack(trajectory)


def keras_clip(g, segments=None, clipnorm=None, clipvalue=None, global_clipnorm=None):
    """Keras 3's documented clipping of one row of gradients (1, P): each weight's
    gradient to a norm of at most `clipnorm`; all of them to a global norm of at most
    `global_clipnorm`; each value to [-clipvalue, clipvalue]."""
    g = g.copy()
    if clipnorm is not None:
        for start, end in segments or [(0, g.shape[1])]:
            norm = np.sqrt(np.sum(g[:, start:end] ** 2))
            g[:, start:end] *= clipnorm / max(norm, clipnorm)
    if global_clipnorm is not None:
        norm = np.sqrt(np.sum(g**2))
        g *= global_clipnorm / max(norm, global_clipnorm)
    if clipvalue is not None:
        g = np.clip(g, -clipvalue, clipvalue)
    return g


def keras():
    """Keras 3 on TensorFlow, or a skipped test where it is not installed."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    module = pytest.importorskip("keras")
    if not module.__version__.startswith("3.") or module.backend.backend() != "tensorflow":
        pytest.skip(f"Keras 3 on TensorFlow is needed, found {module.__version__}")
    return module


def keras_schedule(schedule):
    """Keras' own schedule of the class and settings of a one-member netfleet `schedule`."""
    return getattr(keras().optimizers.schedules, type(schedule).__name__)(**schedule.get_config())


def run_keras(class_name, config, w0, grads, segments=None):
    """Run Keras 3's own optimizer `class_name`, made from `config` (netfleet's: a schedule
    becomes Keras' own), on member 0 of the problem, one Keras variable per segment.

    Returns the trajectory (steps, 1, P) as float64.
    """
    module = keras()
    settings = dict(config)
    if isinstance(settings.get("learning_rate"), LearningRateSchedule):
        settings["learning_rate"] = keras_schedule(settings["learning_rate"])
    optimizer = getattr(module.optimizers, class_name)(**settings)
    segments = segments or [(0, w0.shape[1])]
    variables = [module.Variable(w0[0, a:b].astype(np.float32)) for a, b in segments]
    trajectory = []
    for g in grads:
        pairs = [(g[0, a:b].astype(np.float32), v) for (a, b), v in zip(segments, variables)]
        optimizer.apply_gradients(pairs)
        trajectory.append(np.concatenate([v.numpy() for v in variables])[None])
    return np.stack(trajectory).astype(np.float64)


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


# -- Keras 3's update rules, written out in NumPy --------------------------------------------
def keras_sgd(w, g, t, state, learning_rate=0.01, momentum=0.0, nesterov=False):
    """keras/src/optimizers/sgd.py, written out."""
    if momentum == 0:
        w -= learning_rate * g
        return
    v = state.setdefault("velocity", np.zeros_like(w))
    v[:] = momentum * v - learning_rate * g
    w += momentum * v - learning_rate * g if nesterov else v


def keras_rmsprop(
    w, g, t, state, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False
):
    """keras/src/optimizers/rmsprop.py, written out."""
    v = state.setdefault("velocity", np.zeros_like(w))
    v[:] = rho * v + (1 - rho) * g**2
    if centered:
        mg = state.setdefault("average_gradient", np.zeros_like(w))
        mg[:] = rho * mg + (1 - rho) * g
        denominator = v - mg**2 + epsilon
    else:
        denominator = v + epsilon
    increment = learning_rate * g / np.sqrt(denominator)
    if momentum > 0:
        mom = state.setdefault("momentum", np.zeros_like(w))
        mom[:] = momentum * mom + increment
        w -= mom
    else:
        w -= increment


def keras_adagrad(w, g, t, state, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
    """keras/src/optimizers/adagrad.py, written out."""
    accumulator = state.setdefault("accumulator", np.full_like(w, initial_accumulator_value))
    accumulator += g**2
    w -= learning_rate * g / np.sqrt(accumulator + epsilon)


def keras_adadelta(w, g, t, state, learning_rate=0.001, rho=0.95, epsilon=1e-7):
    """keras/src/optimizers/adadelta.py, written out."""
    accumulated_grad = state.setdefault("accumulated_grad", np.zeros_like(w))
    accumulated_delta_var = state.setdefault("accumulated_delta_var", np.zeros_like(w))
    accumulated_grad[:] = rho * accumulated_grad + (1 - rho) * g**2
    delta = -np.sqrt(accumulated_delta_var + epsilon) * g / np.sqrt(accumulated_grad + epsilon)
    accumulated_delta_var[:] = rho * accumulated_delta_var + (1 - rho) * delta**2
    w += learning_rate * delta


def keras_adamax(w, g, t, state, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """keras/src/optimizers/adamax.py, written out."""
    m = state.setdefault("m", np.zeros_like(w))
    u = state.setdefault("u", np.zeros_like(w))
    m += (g - m) * (1 - beta_1)
    u[:] = np.maximum(beta_2 * u, np.abs(g))
    w -= learning_rate * m / ((1 - beta_1**t) * (u + epsilon))


def keras_nadam(w, g, t, state, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """keras/src/optimizers/nadam.py, written out (Keras 3: `0.96**t`, no 0.004 factor)."""
    m = state.setdefault("m", np.zeros_like(w))
    v = state.setdefault("v", np.zeros_like(w))
    u_t = beta_1 * (1 - 0.5 * 0.96**t)
    u_t_1 = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    u_product_t = state.get("u_product", 1.0) * u_t
    state["u_product"] = u_product_t
    u_product_t_1 = u_product_t * u_t_1
    m += (g - m) * (1 - beta_1)
    v += (g**2 - v) * (1 - beta_2)
    m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product_t)
    v_hat = v / (1 - beta_2**t)
    w -= m_hat * learning_rate / (np.sqrt(v_hat) + epsilon)


def keras_adam(
    w, g, t, state, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False
):
    """keras/src/optimizers/adam.py, written out."""
    m = state.setdefault("m", np.zeros_like(w))
    v = state.setdefault("v", np.zeros_like(w))
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m += (g - m) * (1 - beta_1)
    v += (g**2 - v) * (1 - beta_2)
    if amsgrad:
        v_hat = state.setdefault("velocity_hat", np.zeros_like(w))
        v_hat[:] = np.maximum(v_hat, v)
        v = v_hat
    w -= alpha * m / (np.sqrt(v) + epsilon)


def keras_lion(w, g, t, state, learning_rate=0.001, beta_1=0.9, beta_2=0.99):
    """keras/src/optimizers/lion.py, written out."""
    m = state.setdefault("momentum", np.zeros_like(w))
    w -= learning_rate * np.sign(m * beta_1 + g * (1 - beta_1))
    m[:] = m * beta_2 + g * (1 - beta_2)


# Each netfleet optimizer's rule (AdamW is Adam with its weight decay: `run_formula` adds it).
FORMULAS = {
    "SGD": keras_sgd,
    "RMSprop": keras_rmsprop,
    "Adagrad": keras_adagrad,
    "Adadelta": keras_adadelta,
    "Adamax": keras_adamax,
    "Nadam": keras_nadam,
    "Adam": keras_adam,
    "AdamW": keras_adam,
    "Lion": keras_lion,
}


# -- Keras 3's learning-rate schedules, written out -------------------------------------------
def exponential_decay(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    """keras/src/optimizers/schedules/learning_rate_schedule.py, ExponentialDecay."""
    p = step / decay_steps
    return initial_learning_rate * decay_rate ** (np.floor(p) if staircase else p)


def inverse_time_decay(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    """InverseTimeDecay."""
    p = step / decay_steps
    return initial_learning_rate / (1 + decay_rate * (np.floor(p) if staircase else p))


def cosine_decay(
    step, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0
):
    """CosineDecay, with its linear warmup when `warmup_target` is set."""
    if warmup_target is None:
        start, step = initial_learning_rate, min(step, decay_steps)
    else:
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            delta = warmup_target - initial_learning_rate
            return delta * step / warmup_steps + initial_learning_rate
        start, step = warmup_target, step - warmup_steps
    return start * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * step / decay_steps)) + alpha)


def piecewise_constant_decay(step, boundaries, values):
    """PiecewiseConstantDecay: `values[i]` up to and including `boundaries[i]`."""
    for boundary, value in zip(boundaries, values):
        if step <= boundary:
            return value
    return values[-1]


SCHEDULE_FORMULAS = {
    "ExponentialDecay": exponential_decay,
    "InverseTimeDecay": inverse_time_decay,
    "CosineDecay": cosine_decay,
    "PiecewiseConstantDecay": piecewise_constant_decay,
}


def schedule_formula(schedule):
    """The documented formula of a one-member netfleet schedule, as `step -> rate`."""
    settings = {k: v for k, v in schedule.get_config().items() if k != "name"}
    formula = SCHEDULE_FORMULAS[type(schedule).__name__]
    return lambda step: formula(step, **settings)
