"""A model's tensors by name, as files hold them, and back into a model.

Weights are named `<layer name>/<weight name>` with their member axis, `(M, *shape)`.
Training state, so that `fit` resumes exactly where it stopped: the optimizer's step counts
`optimizer/iterations` `(M, 1)` and slots `optimizer/<slot>` `(M, P)` (laid out like the
model's flat parameter buffer), and the state of each member's random generators
`generators/shuffle` and `generators/dropout` `(M, state bytes)`.
"""

import torch

from netfleet.errors import ModelFileError
from netfleet.ops import seeding

OPTIMIZER = "optimizer/"
GENERATORS = "generators/"
STREAMS = {"shuffle": seeding.SHUFFLE, "dropout": seeding.DROPOUT}


def weight_tensors(model):
    """Every weight of `model` as `{"<layer>/<weight>": (M, *shape) float32 tensor}`."""
    members = model.num_members
    tensors = {}
    for key, layer, name in _weight_slots(model):
        weight = getattr(layer, name).detach().cpu()
        if weight.shape[0] == 1 and members > 1:
            weight = weight.expand(members, *weight.shape[1:])
        tensors[key] = weight.to(torch.float32).contiguous().clone()
    return tensors


def training_tensors(model):
    """The optimizer state (if `fit` built it) and the members' generator states."""
    tensors = {}
    store = model._store
    optimizer = model.compiled.optimizer if model.compiled is not None else None
    if (
        optimizer is not None
        and store is not None
        and store.is_current()
        and optimizer.is_built_for(store.data)
    ):
        tensors[OPTIMIZER + "iterations"] = optimizer.iterations.detach().cpu().clone()
        for name, slot in optimizer.slots.items():
            tensors[OPTIMIZER + name] = slot.detach().cpu().contiguous().clone()
    for label, stream in STREAMS.items():
        generators = model._generator_cache.get(stream)
        if generators is not None:
            tensors[GENERATORS + label] = torch.stack([g.get_state() for g in generators])
    return tensors


def load_weight_tensors(model, tensors, source, broadcast=False):
    """Copy the weights in `tensors` into `model`, after checking every name and shape.

    Args:
        model: A built model.
        tensors: `{"<layer>/<weight>": tensor}`; names under `optimizer/` and `generators/`
            are left alone.
        source: The file the tensors come from, for error messages.
        broadcast: Whether a 1-member weight may fill every member of a fleet.

    Raises:
        ModelFileError: a weight is missing, unexpected, or of the wrong shape (all listed).
    """
    members = model.num_members
    slots = {key: (layer, name) for key, layer, name in _weight_slots(model)}
    found = {k for k in tensors if not k.startswith((OPTIMIZER, GENERATORS))}
    problems = [f"missing weight '{key}'" for key in slots if key not in found]
    problems += [f"unexpected weight '{key}'" for key in sorted(found - set(slots))]
    allowed = (1, members) if broadcast else (members,)
    for key, (layer, name) in slots.items():
        value, shape = tensors.get(key), tuple(getattr(layer, name).shape[1:])
        if value is None:
            continue
        if (
            tuple(value.shape[1:]) != shape
            or value.ndim != len(shape) + 1
            or value.shape[0] not in allowed
            or not value.is_floating_point()
        ):
            problems.append(
                f"weight '{key}' is {value.dtype} of shape {tuple(value.shape)}, but the model "
                f"needs float of shape {(members, *shape)}"
            )
    if problems:
        raise ModelFileError(
            f"The weights in {source} do not fit model '{model.name}': {'; '.join(problems)}."
        )
    for key, (layer, name) in slots.items():
        _assign(model, layer, name, tensors[key].to(torch.float32))


def load_training_tensors(model, tensors, source, optimizer=True):
    """Restore the generator states and, if `optimizer`, the optimizer state in `tensors`.

    Raises:
        ModelFileError: the saved state does not fit the model's members or parameters.
    """
    state = {k[len(OPTIMIZER) :]: v for k, v in tensors.items() if k.startswith(OPTIMIZER)}
    if optimizer and state and model.compiled is not None:
        _load_optimizer(model, state, source)
    for label, stream in STREAMS.items():
        if GENERATORS + label in tensors:
            _load_generators(model, stream, tensors[GENERATORS + label], source, label)


def _weight_slots(model):
    return [
        (f"{layer.name}/{name}", layer, name)
        for layer in model.layers
        for name in layer.weight_names
    ]


def _assign(model, layer, name, value):
    """Put `value` into the weight, in place when the shapes agree (keeping the packing)."""
    target = getattr(layer, name)
    value = value.expand(model.num_members, *value.shape[1:])
    if target.shape == value.shape:
        with torch.no_grad():
            target.copy_(value)
        return
    setattr(layer, name, value.clone().requires_grad_(layer.trainable))
    model._store = None


def _load_optimizer(model, state, source):
    optimizer = model.compiled.optimizer
    store = model.parameter_store()
    optimizer.build(store.data)
    expected = {"iterations": optimizer.iterations, **optimizer.slots}
    problems = [f"missing '{OPTIMIZER}{name}'" for name in expected if name not in state]
    problems += [f"unexpected '{OPTIMIZER}{name}'" for name in sorted(set(state) - set(expected))]
    problems += [
        f"'{OPTIMIZER}{name}' has shape {tuple(state[name].shape)}, expected {tuple(target.shape)}"
        for name, target in expected.items()
        if name in state and state[name].shape != target.shape
    ]
    if problems:
        raise ModelFileError(
            f"The optimizer state in {source} does not fit model '{model.name}' and its "
            f"{type(optimizer).__name__}: {'; '.join(problems)}."
        )
    with torch.no_grad():
        for name, target in expected.items():
            target.copy_(state[name].to(target.dtype))


def _load_generators(model, stream, states, source, label):
    seeds = model.member_seeds
    generators = [seeding.member_generator(seed, stream) for seed in seeds]
    if states.dtype != torch.uint8 or states.ndim != 2 or states.shape[0] != len(seeds):
        raise ModelFileError(
            f"The {label} generator states in {source} are {states.dtype} of shape "
            f"{tuple(states.shape)}; model '{model.name}' needs uint8 with one row per member "
            f"({len(seeds)})."
        )
    try:
        for generator, row in zip(generators, states):
            generator.set_state(row.clone())
    except RuntimeError as error:
        raise ModelFileError(
            f"The {label} generator states in {source} are damaged: {error}"
        ) from error
    model._generator_cache[stream] = generators
