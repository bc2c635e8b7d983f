"""A model's tensors by name, as files hold them, and back into a model.

Weights are named `<layer name>/<weight name>` with their member axis, `(M, *shape)`.
Training state, so that `fit` resumes exactly where it stopped: the optimizer's step counts
`optimizer/iterations` `(M, 1)` and slots `optimizer/<slot>` `(M, P)` (laid out like the
model's flat parameter buffer), and the state of each member's random generators
`generators/shuffle` and `generators/dropout` `(M, state bytes)`.

Files hold CPU tensors whatever device trained the model; loaded weights go to the device
computations run on (`netfleet.config`).
"""

import torch

from netfleet import config
from netfleet.engine import placement
from netfleet.errors import ModelFileError
from netfleet.ops import seeding
from netfleet.saving.jsontext import brief

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
    store = model.current_parameter_store()
    optimizer = model.compiled.optimizer if model.compiled is not None else None
    if optimizer is not None and store is not None and optimizer.is_built_for(store.data):
        tensors[OPTIMIZER + "iterations"] = optimizer.iterations.detach().cpu().clone()
        for name, slot in optimizer.slots.items():
            tensors[OPTIMIZER + name] = slot.detach().cpu().contiguous().clone()
    for label, stream in STREAMS.items():
        generators = model.existing_member_generators(stream)
        if generators is not None:
            tensors[GENERATORS + label] = torch.stack([g.get_state() for g in generators])
    return tensors


def check_weights(model, specs, source, broadcast=False, file_layers=None):
    """Refuse weights that do not fit `model`, judged by their dtypes and shapes alone: a
    file's header is checked this way before any of its tensors is read.

    Weights are matched by name when every name agrees. Otherwise, as Keras does when the
    generated names of a freshly built model differ from the file's, by structure: the
    file's layers that hold weights, in `file_layers` order, against the model's, each of
    the same class with the same weight names and shapes.

    Args:
        model: A built model (its weights may be on the "meta" device: shapes only).
        specs: `{"<layer>/<weight>": spec}`, each with a torch `dtype` and a `shape`; names
            under `optimizer/` and `generators/` are left alone.
        source: The file the weights come from, for error messages.
        broadcast: Whether a 1-member weight may fill every member of a fleet.
        file_layers: The layers of the model that wrote the file, in order, as
            `(name, class name)` pairs (see `layer_order`), or None when the file does not
            record them (then only names can match).

    Returns:
        `{"<layer>/<weight>" of the model: the name of the file's tensor that fills it}`.

    Raises:
        ModelFileError: a weight is missing, unexpected, or of the wrong shape (all listed),
            and matching by structure fails too.
    """
    slots = {key: _shape(layer, name) for key, layer, name in _weight_slots(model)}
    found = {key for key in specs if not key.startswith((OPTIMIZER, GENERATORS))}
    problems = [f"missing weight '{key}'" for key in slots if key not in found]
    problems += [f"unexpected weight {brief(key)}" for key in sorted(found - set(slots))]
    for key, shape in slots.items():
        if key in specs:
            problems += _shape_problem(f"weight '{key}'", specs[key], shape, model, broadcast)
    if not problems:
        return {key: key for key in slots}
    by_name = f"The weights in {source} do not fit model '{model.name}': {_listed(problems)}."
    if found == set(slots):
        raise ModelFileError(by_name)
    if file_layers is None:
        raise ModelFileError(
            f"{by_name} The file does not record the order of its layers, so its weights "
            "cannot be matched by structure either."
        )
    return _match_structure(model, specs, found, file_layers, source, broadcast, by_name)


def layer_order(model):
    """The model's layers in order as `[name, class name]` pairs: what a file records so
    that its weights can be matched by structure when the names differ."""
    return [[layer.name, type(layer).__name__] for layer in model.layers]


def load_weight_tensors(model, tensors, source, broadcast=False, file_layers=None):
    """Copy the weights in `tensors` into `model`, after checking every name and shape.

    Args:
        model: A built model.
        tensors: `{"<layer>/<weight>": tensor}`; names under `optimizer/` and `generators/`
            are left alone.
        source: The file the tensors come from, for error messages.
        broadcast: Whether a 1-member weight may fill every member of a fleet.
        file_layers: The file's layer order, to match by structure when names differ (see
            `check_weights`).

    Raises:
        ModelFileError: the weights fit neither by name nor by structure (all listed).
    """
    sources = check_weights(model, tensors, source, broadcast, file_layers)
    for key, layer, name in _weight_slots(model):
        _assign(model, layer, name, tensors[sources[key]].to(torch.float32))
    placement.place_for_inference(model, config.get_device())


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


def _shape(layer, name):
    """One member's shape of weight `name` of `layer`."""
    return tuple(getattr(layer, name).shape[1:])


def _shape_problem(what, spec, shape, model, broadcast):
    """`[why]` a file's tensor `spec` cannot fill a weight of one member's `shape`, or `[]`."""
    members = model.num_members
    allowed = (1, members) if broadcast else (members,)
    if (
        tuple(spec.shape[1:]) == shape
        and len(spec.shape) == len(shape) + 1
        and spec.shape[0] in allowed
        and spec.dtype.is_floating_point
    ):
        return []
    problem = (
        f"{what} is {spec.dtype} of shape {tuple(spec.shape)}, but the model needs float of "
        f"shape {(members, *shape)}"
    )
    return [problem]


def _match_structure(model, specs, found, file_layers, source, broadcast, by_name):
    """Pair the model's layers that hold weights with the file's, in order (see
    `check_weights`); `by_name` (why the names do not fit) stays in the error."""
    in_file = _file_layers_with_weights(found, file_layers, source)
    in_model = [layer for layer in model.layers if layer.weight_names]
    problems = []
    if len(in_file) != len(in_model):
        problems.append(
            f"the file holds the weights of {len(in_file)} layers, the model of {len(in_model)}"
        )
    sources = {}
    for position, (layer, (name, kind, weights)) in enumerate(zip(in_model, in_file), 1):
        where = f"layer {position} with weights (model '{layer.name}', file {brief(name)})"
        if kind != type(layer).__name__ or set(weights) != set(layer.weight_names):
            problems.append(
                f"{where} is a {type(layer).__name__} with {', '.join(layer.weight_names)} "
                f"in the model, a {brief(kind)} with {', '.join(sorted(weights))} in the file"
            )
            continue
        for weight in layer.weight_names:
            spec = specs[weights[weight]]
            shape = _shape(layer, weight)
            problems += _shape_problem(f"{where}: {weight}", spec, shape, model, broadcast)
            sources[f"{layer.name}/{weight}"] = weights[weight]
    if problems:
        raise ModelFileError(
            f"{by_name} Matched by structure instead (layer order and weight shapes, as Keras "
            f"does when names differ), they do not fit either: {_listed(problems)}."
        )
    return sources


def _file_layers_with_weights(found, file_layers, source):
    """`[(layer name, class name, {weight name: tensor name})]` of the file's layers that
    hold weights, in `file_layers` order; every weight must belong to a listed layer."""
    by_layer = {}
    for key in found:
        layer, _, weight = key.rpartition("/")
        by_layer.setdefault(layer, {})[weight] = key
    unlisted = sorted(set(by_layer) - {name for name, _ in file_layers})
    if unlisted:
        raise ModelFileError(
            f"The weights in {source} are damaged: the layers {brief(unlisted)} hold weights "
            "but are missing from the file's list of layers."
        )
    return [(name, kind, by_layer[name]) for name, kind in file_layers if name in by_layer]


def _listed(problems, most=10):
    """The first `most` problems, joined, and how many more there are."""
    more = f"; and {len(problems) - most} more" if len(problems) > most else ""
    return "; ".join(problems[:most]) + more


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
    setattr(layer, name, value.clone().requires_grad_(name in layer.trainable_weight_names))
    model.forget_parameter_store()


def _load_optimizer(model, state, source):
    optimizer = model.compiled.optimizer
    store = model.parameter_store()
    optimizer.build(store.data, store.segments)
    expected = {"iterations": optimizer.iterations, **optimizer.slots}
    problems = [f"missing '{OPTIMIZER}{name}'" for name in expected if name not in state]
    problems += [
        f"unexpected {brief(OPTIMIZER + name)}" for name in sorted(set(state) - set(expected))
    ]
    problems += [
        f"'{OPTIMIZER}{name}' has shape {tuple(state[name].shape)}, expected {tuple(target.shape)}"
        for name, target in expected.items()
        if name in state and state[name].shape != target.shape
    ]
    if problems:
        raise ModelFileError(
            f"The optimizer state in {source} does not fit model '{model.name}' and its "
            f"{type(optimizer).__name__}: {_listed(problems)}."
        )
    with torch.no_grad():
        for name, target in expected.items():
            target.copy_(state[name].to(target.dtype))


def _load_generators(model, stream, states, source, label):
    seeds = model.member_seeds
    if states.dtype != torch.uint8 or states.ndim != 2 or states.shape[0] != len(seeds):
        raise ModelFileError(
            f"The {label} generator states in {source} are {states.dtype} of shape "
            f"{tuple(states.shape)}; model '{model.name}' needs uint8 with one row per member "
            f"({len(seeds)})."
        )
    generators = [seeding.member_generator(seed, stream) for seed in seeds]
    try:
        for generator, row in zip(generators, states):
            generator.set_state(row.clone())
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise ModelFileError(
            f"The {label} generator states in {source} are damaged: {first_line}"
        ) from None
    model.set_member_generators(stream, generators)
