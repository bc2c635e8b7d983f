"""User layers written for one model, run on the member axis.

A layer a user writes (a subclass of `Layer` defined outside netfleet; a subclass of one of
netfleet's layers keeps its parent's member axis) reads weights of one member's shape and
inputs `(batch, ...)`, as in Keras. Its `call` is lifted: for M members,
`torch.func.vmap` runs it once per member, with the layer's weights replaced by that
member's slices for the call (as `torch.func.functional_call` does) and each input either
split by member or, when all members share it (`(1, batch, ...)`), passed whole. A user
layer that holds other layers and no weights of its own only composes them: its `call` runs
on the member axis as it is, like a subclassed model's. netfleet's own layers write their
maths for the member axis and are never lifted (`Layer.member_axis`).

Two modes tell a layer call what its tensors are: inside `model_call()` (a model's forward
pass, or a layer called on arrays) tensors carry the member axis and autograd stays on;
inside a lifted call they are one member's.
"""

import contextlib
import contextvars
import functools
import inspect

import torch

from netfleet.errors import InvalidArgumentError
from netfleet.ops import context

_DRY_RUN_BATCH = 2  # examples in the zeros a layer's call runs on to learn its output shape

_model_call = contextvars.ContextVar("netfleet_model_call", default=False)
_member_call = contextvars.ContextVar("netfleet_member_call", default=False)
_trace = contextvars.ContextVar("netfleet_trace", default=None)


@contextlib.contextmanager
def model_call():
    """Layers called on tensors inside this block read `(M or 1, batch, ...)` tensors."""
    token = _model_call.set(True)
    try:
        yield
    finally:
        _model_call.reset(token)


def in_model_call():
    return _model_call.get()


def in_member_call():
    """Whether a lifted call is running: tensors are one member's."""
    return _member_call.get()


@contextlib.contextmanager
def tracing():
    """Collect `(layer, output)` for every layer call inside a model call in the block: the
    list this yields (what a subclassed model's build learns about its layer calls)."""
    calls = []
    token = _trace.set(calls)
    try:
        yield calls
    finally:
        _trace.reset(token)


def current_trace():
    """The list `tracing()` collects into, or None outside it."""
    return _trace.get()


def lift(call):
    """`call`, written for one model, as a call on `(M or 1, batch, ...)` tensors.

    The lifted call takes `training` (None: the forward pass's) and passes it on only when
    `call` takes it, as Keras does.
    """
    takes_training = _takes_training(call)

    @functools.wraps(call)
    def member_axis_call(self, inputs, training=None, **kwargs):
        if takes_training:
            kwargs["training"] = context.current().training if training is None else training
        if _member_call.get():  # a subclass's super().call(...): already one member's tensors
            return call(self, inputs, **kwargs)
        if self.sublayers():
            return _compose(self, call, inputs, kwargs)
        return _per_member(self, call, inputs, kwargs)

    member_axis_call.one_member_call = call
    return member_axis_call


def accept_training(call):
    """`call` taking the `training` argument that models pass to every layer, leaving it
    out when `call` does not take it (Keras passes it only to a call that does)."""
    if _takes_training(call):
        return call

    @functools.wraps(call)
    def call_taking_training(self, inputs, training=None, **kwargs):
        return call(self, inputs, **kwargs)

    return call_taking_training


def _takes_training(call):
    parameters = inspect.signature(call).parameters.values()
    return any(p.name == "training" or p.kind is p.VAR_KEYWORD for p in parameters)


def _compose(layer, call, inputs, kwargs):
    """Run the call of a layer that holds layers on the member axis, as it is written."""
    if layer.weight_names:
        raise InvalidArgumentError(
            f"Layer '{layer.name}' ({type(layer).__name__}) creates weights with add_weight "
            f"and also holds layers ({', '.join(inner.name for inner in layer.sublayers())}). "
            "netfleet lifts a custom layer over the members of a fleet when its weights are "
            "all its own; compose the inner layers in a layer without weights of its own or in "
            "a Model subclass, and keep add_weight for a layer that holds no layers."
        )
    with model_call():
        return call(layer, inputs, **kwargs)


def _per_member(layer, call, inputs, kwargs):
    """`call` once per member, each member's weights substituted for the layer's."""
    names = list(layer.weight_names)
    weights = [getattr(layer, name) for name in names]
    tensors = _leaves(inputs)
    members = max((t.shape[0] for t in weights + tensors), default=1)
    for tensor in tensors:
        if tensor.shape[0] not in (1, members):
            raise InvalidArgumentError(
                f"Layer '{layer.name}' runs {members} members; its input has a member axis "
                f"of {tensor.shape[0]} (shape {tuple(tensor.shape)}), not 1 or {members}."
            )
    token = _member_call.set(True)
    try:
        if members == 1:
            with _substituted(layer, names, [w[0] for w in weights]):
                out = call(layer, _map(inputs, lambda t: t[0]), **kwargs)
            return _map(out, lambda t: t.unsqueeze(0))

        def one_member(member_weights, member_inputs):
            with _substituted(layer, names, member_weights):
                return call(layer, member_inputs, **kwargs)

        weight_dims = [0 if w.shape[0] == members else None for w in weights]
        weight_args = [w if d == 0 else w[0] for w, d in zip(weights, weight_dims)]
        input_dims = _map(inputs, lambda t: 0 if t.shape[0] == members else None)
        input_args = _map(inputs, lambda t: t if t.shape[0] == members else t[0])
        lifted = torch.func.vmap(
            one_member, in_dims=(weight_dims, input_dims), randomness="different"
        )
        try:
            return lifted(weight_args, input_args)
        except Exception as error:
            error.add_note(
                f"netfleet runs the call of layer '{layer.name}' once per member of a fleet of "
                f"{members} with torch.func.vmap, which takes torch operations on tensors but "
                "not reading their values into Python (.item(), if on a tensor). Write the call "
                "with tensor operations (torch.where for a condition)."
            )
            raise
    finally:
        _member_call.reset(token)


@contextlib.contextmanager
def _substituted(layer, names, tensors):
    """The layer's weights `names` replaced by `tensors` for the block."""
    originals = [getattr(layer, name) for name in names]
    try:
        for name, tensor in zip(names, tensors):
            setattr(layer, name, tensor)
        yield
    finally:
        for name, tensor in zip(names, originals):
            setattr(layer, name, tensor)


def _map(structure, fn):
    """`fn` applied to every tensor of a tensor, or a list, tuple or dict of them."""
    if torch.is_tensor(structure):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(item, fn) for item in structure)
    if isinstance(structure, dict):
        return {key: _map(value, fn) for key, value in structure.items()}
    return structure


def _leaves(structure):
    found = []
    _map(structure, found.append)
    return found


def output_shape_by_dry_run(layer, input_shape):
    """The output shape of a user layer that does not write `compute_output_shape`: its
    call on a small batch of zeros (unknown sizes taken as 1), as Keras traces it."""
    shapes = input_shape if _is_shape_list(input_shape) else [input_shape]
    zeros = [torch.zeros(1, _DRY_RUN_BATCH, *(d or 1 for d in s[1:])) for s in shapes]
    try:
        with (
            torch.no_grad(),
            context.forward_context(context.ForwardContext(False)),
            model_call(),
        ):
            out = layer.call(zeros if _is_shape_list(input_shape) else zeros[0], training=False)
    except Exception as error:
        error.add_note(
            f"netfleet called layer '{layer.name}' on zeros of shape "
            f"{[tuple(z.shape[1:]) for z in zeros]} to learn its output shape; write "
            "compute_output_shape(input_shape) in the layer to give it instead."
        )
        raise
    if not torch.is_tensor(out):
        raise InvalidArgumentError(
            f"Layer '{layer.name}' returns {type(out).__name__}; a layer called on symbolic "
            "tensors must return one tensor."
        )
    return (shapes[0][0], *out.shape[2:])


def _is_shape_list(value):
    return bool(value) and isinstance(value[0], (tuple, list))


def follow_weight(layer, name, value):
    """`setattr` for user layers: an attribute that holds one of the layer's weights
    (`self.w = self.add_weight(...)`) keeps holding it when the weight's tensor is replaced
    (packed into a fleet's buffer, stacked, loaded, or one member's slice in a lifted call)."""
    object.__setattr__(layer, name, value)
    aliases = layer.__dict__.get("_weight_aliases")
    if aliases is None:
        return
    if name in aliases:
        for alias in aliases[name]:
            object.__setattr__(layer, alias, value)
        return
    for weight, names in aliases.items():
        if name in names and layer.__dict__.get(weight) is not value:
            names.remove(name)
    if torch.is_tensor(value):
        for weight in aliases:
            if layer.__dict__.get(weight) is value and name not in aliases[weight]:
                aliases[weight].append(name)
