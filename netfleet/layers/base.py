"""The Layer base class: Keras' `build` / `call` / `compute_output_shape` / `get_config`,
with every weight carrying a leading member axis `(M, *shape)`.

netfleet's layers write their maths for that axis. A layer a user writes is written for one
model, as in Keras, and lifted over the members (`netfleet.layers.lifting`).
"""

import inspect
import os

import numpy as np
import torch

from netfleet import initializers
from netfleet.errors import InvalidArgumentError, InvalidTypeError, argument_error, check_bool
from netfleet.layers import lifting, naming
from netfleet.layers.symbolic import Node, flatten, is_symbolic
from netfleet.ops import context, seeding

_FLOAT32 = (None, "float32", torch.float32)  # the dtypes add_weight takes
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Layer:
    """A building block of a model: maps `(M, batch, ...)` tensors to `(M, batch, ...)`.

    Subclasses create weights in `build(input_shape)` with `add_weight` and write their
    maths in `call(inputs, training=False)`. A subclass written outside netfleet is written
    for one model, as in Keras: its weights have one member's shape and its inputs are
    `(batch, ...)`; in a fleet its `call` runs once per member (`torch.func.vmap`).

    Example:
        >>> import numpy as np
        >>> import torch
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        ...
        ...     def call(self, inputs):
        ...         return inputs * self.w
        >>> Scale()(np.array([[1.0, 2.0]])).numpy()
        array([[1., 2.]], dtype=float32)

    Args:
        name: Unique name; Keras-style `dense`, `dense_1`, ... when omitted.
        trainable: Whether the optimizer updates this layer's weights. Defaults to `True`.
        input_shape: Shape of one example (no batch axis), for a model's first layer.
        input_dim: Shorthand for `input_shape=(input_dim,)`.
    """

    member_axis = True
    """Whether `call` reads `(M, batch, ...)` tensors and `(M, *shape)` weights: netfleet's
    layers do, and so does a subclass of one of them (its `super().call` is theirs). A
    subclass of `Layer` defined elsewhere does not (netfleet lifts its `call`), unless its
    class sets `member_axis = True` itself."""

    def __init__(self, name=None, trainable=True, input_shape=None, input_dim=None, **kwargs):
        kwargs.pop("dtype", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise InvalidTypeError(
                f"{type(self).__name__} got unexpected keyword arguments: {sorted(kwargs)}."
            )
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_shape is not None:
            input_shape = _shape_tuple(input_shape, "input_shape", type(self).__name__)
        owner = type(self).__name__
        if name is not None and (not isinstance(name, str) or not name):
            raise argument_error("name", owner, "a non-empty string or None", name)
        self.name = name or naming.unique(naming.snake_case(owner))
        self.trainable = check_bool(trainable, "trainable", owner)
        self.input_shape_hint = input_shape
        self.built = False
        self.weight_names = []
        self._non_trainable_names = set()
        self._initializers = {}
        self._weight_aliases = {}
        self.inbound_nodes = []
        self.input_spec_shape = None

    # -- the four methods a layer writes ---------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch axis `None`)."""
        self.built = True

    def call(self, inputs, training=False):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape_hint is not None:
            config["input_shape"] = list(self.input_shape_hint)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- fast path -------------------------------------------------------------------------
    def stage(self, first, logits):
        """This layer's fast path for the fused training step, or None: a model with a layer
        that has none trains through autograd. A layer has none by default.

        A stage (see `netfleet.layers.stages`) has `weights`, the trainable tensors whose
        gradients it writes; `forward(x)`, the layer's training-mode output, keeping what
        the backward pass reads; and `backward(grad)`, which overwrites each weight's `.grad`
        and returns the gradient of the input (None when `first`).

        Args:
            first: Whether nothing trainable comes before this layer in the chain (so the
                gradient of its input is not needed).
            logits: Whether to leave the final activation out (the loss reads logits).
        """

    def __init_subclass__(cls, **kwargs):
        """A subclass that rewrites the forward pass without writing its own stage gets no
        stage, never its parent's (which would silently compute the parent's maths). One
        written outside netfleet for one model gets its `call` lifted over the members, its
        output shape from a call on zeros unless it writes `compute_output_shape`, its
        config from the arguments it was made with unless it writes `get_config` (Keras 3's
        automatic config), and attributes that follow its weights
        (`self.w = self.add_weight(...)`)."""
        super().__init_subclass__(**kwargs)
        rewrites_forward = "call" in vars(cls) or "pre_activation" in vars(cls)
        if rewrites_forward and "stage" not in vars(cls):
            cls.stage = Layer.stage
        if "member_axis" not in vars(cls) and "call" in vars(cls):
            parent = next(k for k in cls.__mro__[1:] if "call" in vars(k))
            extends_batched = parent is not Layer and parent.member_axis
            cls.member_axis = extends_batched or _written_in_netfleet(vars(cls)["call"])
        if cls.member_axis:
            if "call" in vars(cls) and not _written_in_netfleet(vars(cls)["call"]):
                cls.call = lifting.accept_training(vars(cls)["call"])
            return
        if "call" in vars(cls):
            cls.call = lifting.lift(vars(cls)["call"])
        if cls.compute_output_shape is Layer.compute_output_shape:
            cls.compute_output_shape = lifting.output_shape_by_dry_run
        if cls.__setattr__ is object.__setattr__:
            cls.__setattr__ = lifting.follow_weight
        if cls.get_config is Layer.get_config:
            cls.get_config = _config_of_arguments
        if cls.__new__ is object.__new__:
            cls.__new__ = _recording_new

    # -- weights ---------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, name=None):
        """Create a weight of one member's `shape`, stored as `(1, *shape)` (a fleet's
        weights are `(M, *shape)`), and return it. It is the attribute `name` of the layer,
        and of any attribute it is assigned to (`self.w = self.add_weight(...)`).

        Keras 3's order, `add_weight(shape, initializer, ...)`, and the name-first order of
        Keras 2 and netfleet's layers, `add_weight(name, shape, initializer)`, both work: a
        first argument that is a string is the name.

        A weight made with `trainable=False` (BatchNormalization's moving statistics) is
        never updated by the optimizer, but is saved, stacked and copied like the others.

        Args:
            shape: One member's shape. Defaults to `()` (a scalar).
            initializer: Name, config or `Initializer`. Defaults to `"glorot_uniform"`.
            dtype: Only `"float32"`: netfleet's weights are float32. Defaults to `None`.
            trainable: Whether the optimizer updates it. Defaults to `True`.
            name: Defaults to `"variable"`, `"variable_1"`, ... within the layer.
        """
        if isinstance(shape, str):
            name, shape, initializer, dtype = shape, initializer, dtype, None
        owner = f"{type(self).__name__}.add_weight"
        shape = () if shape is None else _shape_tuple(shape, "shape", owner)
        if None in shape:
            raise argument_error("shape", owner, "a tuple of positive integers", shape)
        if name is None:
            name = _free_name("variable", self.weight_names)
        elif not isinstance(name, str) or not name or name in self.weight_names:
            raise argument_error("name", owner, "a new weight name (a non-empty string)", name)
        if not any(dtype is d or dtype == d for d in _FLOAT32):
            raise argument_error("dtype", owner, "'float32' (netfleet weights are float32)", dtype)
        trainable = check_bool(trainable, "trainable", owner)
        initializer = initializers.get("glorot_uniform" if initializer is None else initializer)
        value = initializer(shape, seeding.global_generator()).to(torch.float32)
        tensor = value.unsqueeze(0)
        if self.trainable and trainable:
            tensor.requires_grad_(True)
        if not trainable:
            self._non_trainable_names.add(name)
        self._weight_aliases[name] = []
        setattr(self, name, tensor)
        self.weight_names.append(name)
        self._initializers[name] = initializer
        return tensor

    @property
    def weights(self):
        return [getattr(self, name) for name in self.weight_names]

    @property
    def trainable_weight_names(self):
        """Names of the weights the optimizer updates (none when the layer is frozen)."""
        if not self.trainable:
            return []
        return [name for name in self.weight_names if name not in self._non_trainable_names]

    @property
    def trainable_weights(self):
        return [getattr(self, name) for name in self.trainable_weight_names]

    @property
    def non_trainable_weights(self):
        trainable = set(self.trainable_weight_names)
        return [getattr(self, name) for name in self.weight_names if name not in trainable]

    @property
    def num_members(self):
        weights = self.weights
        return weights[0].shape[0] if weights else 1

    def count_params(self):
        """Parameters of one member (what Keras' summary shows)."""
        return sum(int(np.prod(w.shape[1:])) for w in self.weights)

    def get_weights(self):
        """The weights as NumPy arrays: one member's shape, or `(M, *shape)` for a fleet."""
        return [_to_numpy(w) for w in self.weights]

    def set_weights(self, weights):
        """Copy arrays into the weights; one member's shape is broadcast to every member."""
        current = self.weights
        if len(weights) != len(current):
            raise InvalidArgumentError(
                f"Layer '{self.name}' expects {len(current)} weight arrays "
                f"({', '.join(self.weight_names)}). Got {len(weights)}."
            )
        for name, target, value in zip(self.weight_names, current, weights):
            value = torch.as_tensor(np.asarray(value), dtype=torch.float32)
            if value.shape == target.shape[1:]:
                value = value.unsqueeze(0)
            if value.shape[1:] != target.shape[1:] or value.shape[0] not in (1, target.shape[0]):
                raise InvalidArgumentError(
                    f"Weight '{name}' of layer '{self.name}' has shape "
                    f"{tuple(target.shape[1:])} (or {tuple(target.shape)} with the member axis). "
                    f"Got an array of shape {tuple(value.shape)}."
                )
            with torch.no_grad():
                target.copy_(value.expand_as(target))

    # -- graph -----------------------------------------------------------------------------
    def __call__(self, inputs, training=None):
        """On symbolic tensors: record the call in a graph. Inside a model's call (a
        subclassed model, a layer that composes layers): run on `(M or 1, batch, ...)`
        tensors, with autograd. On arrays: the output for one model's `(batch, ...)` batch
        (or a fleet layer's `(M, batch, ...)`), without gradients.

        Args:
            training: Whether to run in training mode (Dropout). Defaults to `None`: the
                mode of the forward pass in progress, inference outside one.
        """
        if lifting.in_member_call():
            raise InvalidArgumentError(
                f"Layer '{self.name}' was called inside the call of a layer with weights of "
                "its own, which netfleet runs once per member of a fleet. A layer that calls "
                "other layers must hold no weights of its own: compose layers in a layer "
                "without add_weight, or in a Model subclass."
            )
        if is_symbolic(inputs):
            return self._call_symbolic(inputs)
        if lifting.in_model_call():
            return self._call_in_model(inputs, training)
        return self._call_eager(inputs, bool(training))

    def _call_symbolic(self, inputs):
        shapes = [t.shape for t in flatten(inputs)]
        input_shape = shapes[0] if len(shapes) == 1 else shapes
        self.ensure_built(input_shape)
        node = Node(self, flatten(inputs), [self.compute_output_shape(input_shape)])
        self.inbound_nodes.append(node)
        return node.outputs[0]

    def _call_in_model(self, inputs, training):
        """Call inside a model's call on `(M or 1, batch, ...)` tensors, keeping autograd."""
        shapes = [(None, *t.shape[2:]) for t in flatten(inputs)]
        self.ensure_built(shapes if isinstance(inputs, (list, tuple)) else shapes[0])
        if training is None:
            training = context.current().training
        out = self.call(inputs, training=training)
        trace = lifting.current_trace()
        if trace is not None:
            trace.append((self, out))
        return out

    def _call_eager(self, inputs, training):
        """Call on arrays of shape `(batch, ...)` (or `(M, batch, ...)` for a fleet layer)."""
        x = torch.as_tensor(np.asarray(inputs) if not torch.is_tensor(inputs) else inputs)
        x = x.to(torch.float32)
        self.ensure_built((None, *x.shape[1:]))
        weights = self.weights
        if weights:  # where its weights are (a GPU after training there)
            x = x.to(weights[0].device)
        added_axis = self.input_spec_shape is not None and x.ndim == len(self.input_spec_shape)
        if added_axis:
            x = x.unsqueeze(0)
        with torch.no_grad(), lifting.model_call():
            out = self.call(x, training=training)
        return out[0] if added_axis and out.shape[0] == 1 else out

    def sublayers(self):
        """The layers this layer holds in its attributes (or in lists, tuples and dicts
        there), each followed by its own, in order: the layers a user layer composes."""
        found, pending = [], find_layers(vars(self).values())[::-1]
        while pending:
            layer = pending.pop()
            if layer is not self and layer not in found:
                found.append(layer)
                pending.extend(find_layers(vars(layer).values())[::-1])
        return found

    def ensure_built(self, input_shape):
        if self.input_spec_shape is None:
            self.input_spec_shape = (
                tuple(input_shape) if not isinstance(input_shape, list) else None
            )
        if not self.built:
            self.build(input_shape)
            self.built = True

    @property
    def input(self):
        return self._first_node("input").inbound[0]

    @property
    def output(self):
        return self._first_node("output").outputs[0]

    def _first_node(self, what):
        if not self.inbound_nodes:
            raise AttributeError(
                f"Layer '{self.name}' has no {what} yet: it has not been called on a "
                "symbolic input (add it to a model whose input shape is known)."
            )
        return self.inbound_nodes[-1]

    @property
    def output_shape(self):
        return self.output.shape

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def find_layers(values):
    """The layers among `values` and in lists, tuples and dicts among them, in order, once
    each."""
    found, pending = [], list(values)[::-1]
    while pending:
        value = pending.pop()
        if isinstance(value, Layer):
            if not any(value is layer for layer in found):
                found.append(value)
        elif isinstance(value, (list, tuple)):
            pending.extend(list(value)[::-1])
        elif isinstance(value, dict):
            pending.extend(list(value.values())[::-1])
    return found


def _recording_new(cls, *args, **kwargs):
    """Keep the arguments a user layer is made with, for its automatic config."""
    layer = object.__new__(cls)
    layer._arguments = (args, kwargs)
    return layer


def _config_of_arguments(self):
    """The config of a user layer that writes no `get_config`: the arguments it was made
    with, then its name and settings (Keras 3 records them alike)."""
    args, kwargs = vars(self).get("_arguments", ((), {}))
    parameters = list(inspect.signature(type(self).__init__).parameters.values())[1:]
    bound = inspect.Signature(parameters).bind_partial(*args, **kwargs).arguments
    config = {}
    for parameter in parameters:
        value = bound.get(parameter.name)
        if parameter.kind is parameter.VAR_KEYWORD:
            config.update(value or {})
        elif parameter.kind is parameter.VAR_POSITIONAL and value:
            raise InvalidArgumentError(
                f"Layer '{self.name}' was made with positional arguments {value!r} that its "
                f"config cannot name: write get_config() in {type(self).__name__}."
            )
        elif parameter.name in bound and parameter.kind is not parameter.VAR_POSITIONAL:
            config[parameter.name] = value
    return {**config, **Layer.get_config(self)}


def _written_in_netfleet(function):
    """Whether `function`'s code is in netfleet's source files (not a user's module, a
    notebook or a docstring example)."""
    code = getattr(function, "__code__", None)
    return code is not None and os.path.abspath(code.co_filename).startswith(_PACKAGE_DIR + os.sep)


def _free_name(prefix, taken):
    """`prefix`, or `prefix_1`, `prefix_2`, ...: the first not in `taken` (Keras' names)."""
    names = (prefix if i == 0 else f"{prefix}_{i}" for i in range(len(taken) + 1))
    return next(name for name in names if name not in taken)


def _shape_tuple(shape, name, owner):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise argument_error(name, owner, "a tuple of positive integers", shape) from None
    if any(d is not None and d < 1 for d in shape):
        raise argument_error(name, owner, "a tuple of positive integers", shape)
    return shape


def _to_numpy(tensor):
    array = tensor.detach().cpu().numpy().copy()
    return array[0] if array.shape[0] == 1 else array
