"""`Model`: a graph of layer calls from `Input`s to outputs, trained as M members.

The model owns the graph and the member axis (how many members, their seeds and swept
settings, which are still training); training itself is `netfleet.engine.training`,
the printed summary `netfleet.models.summary`, files `netfleet.saving`.
"""

import torch

from netfleet import registry, saving
from netfleet.engine import sources, training
from netfleet.engine.compiled import Compiled
from netfleet.engine.parameters import ParameterStore
from netfleet.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    NotBuiltError,
    check_positive_int,
)
from netfleet.layers import lifting, naming
from netfleet.layers.symbolic import SymbolicTensor, flatten
from netfleet.models import config, subclassing, summary
from netfleet.ops import seeding


@registry.register("model")
class Model:
    """A functional model: `Model(inputs, outputs)` over symbolic tensors.

    Args:
        inputs: An `Input(...)` tensor or a list of them.
        outputs: The symbolic tensor(s) produced by calling layers on `inputs`.
        name: Defaults to `"functional"`, `"functional_1"`, ...
        seed: The model's seed: it fixes the batch order and dropout masks of training.
            Defaults to a draw from the global generator (see `utils.set_random_seed`).
    """

    def __init__(self, inputs=None, outputs=None, name=None, seed=None):
        self.name = name or naming.unique(self._default_name())
        self.seed = _checked_seed(seed, type(self).__name__)
        self.compiled = None
        self.stop_training = False
        self.history = None
        self.built = False
        self._members = 1
        self.member_seeds = [self.seed]
        self.member_params = [{}]
        self._store = None
        self._active = None
        self._generator_cache = {}
        if inputs is not None or outputs is not None:
            self._init_graph(inputs, outputs)

    def __init_subclass__(cls, **kwargs):
        """A subclass that writes `call(inputs, training=None)` is a subclassed model, as in
        Keras: its layers are its attributes and it builds itself on the first data it sees
        (`netfleet.models.subclassing`)."""
        super().__init_subclass__(**kwargs)
        if "call" in vars(cls):
            subclassing.adopt(cls, Model)

    def _default_name(self):
        return "functional"

    # -- graph -----------------------------------------------------------------------------
    def _init_graph(self, inputs, outputs):
        self.inputs, self.outputs = flatten(inputs), flatten(outputs)
        for name, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            if not tensors or not all(isinstance(t, SymbolicTensor) for t in tensors):
                raise InvalidTypeError(
                    f"The '{name}' argument of Model must be symbolic tensors (from Input() and "
                    f"layer calls). Got {inputs if name == 'inputs' else outputs!r}."
                )
        self.nodes = _topological_nodes(self.inputs, self.outputs)
        seen, layers = set(), []
        for layer in [t.node.layer for t in self.inputs] + [n.layer for n in self.nodes]:
            for one in [layer, *layer.sublayers()]:  # a user layer's inner layers too
                if id(one) not in seen:
                    seen.add(id(one))
                    layers.append(one)
        self._all_layers = layers
        self.built = True
        self._store = None

    @property
    def layers(self):
        return list(self._all_layers) if self.built else []

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise InvalidArgumentError(
            f"No layer named {name!r}. Layers: {', '.join(l.name for l in self.layers)}."
        )

    def build(self, input_shape=None):
        """Keras' `build`: a functional model is built when it is made; a subclassed model
        builds itself for inputs of `input_shape` (batch axis first; a list for several)."""
        if hasattr(self, "call"):
            subclassing.build(self, input_shape)
        else:
            self.require_built("build()")

    def require_built(self, what):
        if not self.built:
            raise NotBuiltError(
                f"{what} needs the model's input shape, which cannot be known yet: give the "
                "first layer an input_shape (e.g. Dense(32, input_shape=(784,))), call "
                "build(input_shape), or fit the model on data first."
            )

    def ensure_built(self, example_shape):
        self.require_built("This model")

    @property
    def input(self):
        self.require_built("model.input")
        return self.inputs[0] if len(self.inputs) == 1 else self.inputs

    @property
    def output(self):
        self.require_built("model.output")
        return self.outputs[0] if len(self.outputs) == 1 else self.outputs

    @property
    def input_shape(self):
        return self.input.shape

    @property
    def output_shape(self):
        return self.output.shape

    @property
    def example_shape(self):
        return self.inputs[0].shape[1:]

    @property
    def output_example_shape(self):
        return self.outputs[0].shape[1:]

    @property
    def input_names(self):
        """The names of the model's inputs (their `Input` layers), in order: the keys of an
        `x` dict."""
        self.require_built("model.input_names")
        return [tensor.node.layer.name for tensor in self.inputs]

    @property
    def output_names(self):
        """The names of the model's outputs (the layers that produce them), in order: the
        keys of per-output losses, metrics and targets, and the prefixes of their logs."""
        self.require_built("model.output_names")
        return [tensor.node.layer.name for tensor in self.outputs]

    @property
    def input_example_shapes(self):
        """The shape of one example of each input (no batch axis)."""
        return [tensor.shape[1:] for tensor in self.inputs]

    @property
    def output_example_shapes(self):
        """The shape of one example of each output (no batch axis)."""
        return [tensor.shape[1:] for tensor in self.outputs]

    def final_activation(self):
        layer = self.outputs[0].node.layer
        if not hasattr(layer, "pre_activation") or _rewrites_call(type(layer)):
            return None
        return getattr(layer, "activation", None)

    def layer_chain(self):
        """The layers from input to output when the graph is a plain chain (one input, one
        output, each layer reading the one before it), else None."""
        self.require_built("layer_chain()")
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            return None
        tensor, layers = self.inputs[0], []
        for node in self.nodes:
            if len(node.inbound) != 1 or node.inbound[0] is not tensor or len(node.outputs) != 1:
                return None
            tensor = node.outputs[0]
            layers.append(node.layer)
        return layers if tensor is self.outputs[0] else None

    def forward(self, inputs, training=False, logits=False):
        """Run the graph on `(M or 1, batch, ...)` tensors; `logits` skips the final activation."""
        values = {id(t): v for t, v in zip(self.inputs, inputs)}
        final = self.outputs[0].node
        for node in self.nodes:
            args = [values[id(t)] for t in node.inbound]
            arg = args[0] if len(args) == 1 else args
            if logits and node is final:
                values[id(node.outputs[0])] = node.layer.pre_activation(arg)
            else:
                values[id(node.outputs[0])] = node.layer.call(arg, training=training)
        outputs = [values[id(t)] for t in self.outputs]
        return outputs[0] if len(outputs) == 1 else outputs

    # -- members ---------------------------------------------------------------------------
    @property
    def num_members(self):
        return self._members

    def set_members(self, count, seeds=None, params=None):
        """Make the model a fleet of `count` members (weights broadcast from one member)."""
        current = max((layer.num_members for layer in self.layers), default=1)
        if self.built and current not in (1, count):
            raise InvalidArgumentError(
                f"This model already has {current} members; it cannot become {count}."
            )
        self._members = count
        self.member_seeds = list(seeds) if seeds is not None else [self.seed] * count
        self.member_params = list(params) if params is not None else [{}] * count
        self._store = None
        self._generator_cache = {}

    def parameter_store(self):
        """The packed weights (re-packed if the layers were packed by another model)."""
        self.require_built("Training")
        if self._store is None or not self._store.is_current():
            layers = self.layers
            _check_inner_layers(self, layers)
            self._store = ParameterStore(layers, self._members)
        return self._store

    def current_parameter_store(self):
        """The packed weights if they are packed and current (as `fit` left them), else None."""
        store = self._store
        return store if store is not None and store.is_current() else None

    def forget_parameter_store(self):
        """Drop the packed weights after a layer's weight tensors were replaced: the next
        `parameter_store()` packs them anew."""
        self._store = None

    def prepare_inference(self):
        """Broadcast one-member weights to the members of a fleet for a forward pass, and
        re-pack nothing else: layers shared with a trained model (`Model(inputs,
        hidden.output)`, `K.function`) must stay in its buffer, with its optimizer state."""
        self.require_built("Inference")
        if self._members > 1 and any(w.shape[0] == 1 for w in self.weights):
            self.parameter_store()

    def member_generators(self, stream):
        """One generator per member for `stream`, kept across fit calls."""
        if stream not in self._generator_cache:
            self._generator_cache[stream] = [
                seeding.member_generator(s, stream) for s in self.member_seeds
            ]
        return self._generator_cache[stream]

    def existing_member_generators(self, stream):
        """The members' generators for `stream` if they were made (by `fit`), else None."""
        return self._generator_cache.get(stream)

    def set_member_generators(self, stream, generators):
        """Use `generators` (one per member) for `stream` from now on (restored state)."""
        if len(generators) != self._members:
            raise InvalidArgumentError(
                f"Model '{self.name}' has {self._members} members. Got {len(generators)} "
                "generators."
            )
        self._generator_cache[stream] = list(generators)

    def dropout_generators(self, members=None, shared=True):
        """Generators of the distinct seeds of `members` (indices, in the order wanted; all
        members by default), and each one's group among them (None if 1:1 or all one).
        Members that share a seed share its first member's generator, also when only some
        are given; with `shared=False` (steps whose members differ in rows) each member
        draws from its own."""
        generators = self.member_generators(seeding.DROPOUT)
        if not shared:
            members = range(self._members) if members is None else members
            return [generators[m] for m in members], None
        first = {}
        for m, seed in enumerate(self.member_seeds):
            first.setdefault(seed, m)
        members = range(self._members) if members is None else members
        seeds = [self.member_seeds[m] for m in members]
        leaders = list(dict.fromkeys(first[s] for s in seeds))  # in the members' order
        if len(leaders) == len(seeds) or len(leaders) == 1:
            return [generators[m] for m in leaders], None
        group = torch.tensor([leaders.index(first[s]) for s in seeds])
        return [generators[m] for m in leaders], group

    def active_mask(self):
        return self._active

    def stop_members(self, members):
        """Freeze `members` (indices): no more updates; the run ends when all are frozen."""
        if self._active is None:
            self._active = torch.ones(self._members, dtype=torch.bool)
        self._active[list(members)] = False
        if not bool(self._active.any()):
            self.stop_training = True

    @property
    def active_members(self):
        """Indices of the members still training."""
        if self._active is None:
            return list(range(self._members))
        return self._active.nonzero().flatten().tolist()

    # -- training --------------------------------------------------------------------------
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics=None,
        *,
        loss_weights=None,
        weighted_metrics=None,
        run_eagerly=False,
        jit_compile="auto",
        **kwargs,
    ):
        """Fix the optimizer, loss and metrics. Optimizer hyperparameters given as lists make
        the model a fleet with one member per value (per combination for several lists).

        With several outputs, `loss` and `metrics` may be given per output (a list in output
        order or a dict by output name, see `netfleet.engine.compiled`); training minimises
        the sum of each output's loss times its weight in `loss_weights` (a list or a dict;
        1 for every output by default).

        Args:
            weighted_metrics: Metrics computed with the sample weights (`sample_weight`,
                `class_weight`), in the forms `metrics` takes; as in Keras 3, `metrics` are
                computed without them. A weighted metric logs under its own name, or as
                `weighted_<name>` when a plain metric has that name. Padded rows of fleet
                members never count in either. Defaults to none.
            run_eagerly: Train through autograd even where the layers' hand-written fast
                path (the fused step) applies: slower, the same numbers; for debugging a
                layer or checking the fast path. Defaults to `False`.
            jit_compile: Keras' compilation switch (`True`, `False` or `"auto"`): on a GPU,
                `True` / `"auto"` replay the fused step from a captured CUDA graph where the
                shapes are fixed (the same numbers as eager steps); `False` runs every step
                eagerly. No effect on the CPU. Defaults to `"auto"`.
        """
        for key in kwargs:
            raise InvalidTypeError(f"compile() got an unexpected keyword argument {key!r}.")
        output_names = self.output_names if self.built else None
        self.compiled = Compiled(
            optimizer,
            loss,
            metrics,
            run_eagerly,
            jit_compile,
            loss_weights,
            output_names,
            weighted_metrics,
        )
        members = self.compiled.optimizer.num_members
        if members > 1 or self._members == 1:
            self.set_members(members, params=self.compiled.optimizer.member_params)

    def require_compiled(self, owner):
        if self.compiled is None:
            raise RuntimeError(f"You must call compile() on the model before {owner}().")
        return self.compiled

    @property
    def optimizer(self):
        """The compiled optimizer (Keras' `model.optimizer`; its `learning_rate` reads and
        sets each member's rate), or None before `compile`."""
        return None if self.compiled is None else self.compiled.optimizer

    def fit(
        self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kwargs
    ):
        """Train for `epochs` epochs; returns a `History`. Keras' arguments, same defaults."""
        self._active = None
        x = self._built_for(x, "fit")
        return training.fit(self, x, y, batch_size, epochs, verbose, callbacks, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", **kwargs):
        """`[loss, *output losses, *metrics]` (a scalar when the loss is the only value);
        arrays of shape (M,) for a fleet."""
        x = self._built_for(x, "evaluate")
        return training.evaluate(self, x, y, batch_size, verbose, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None):
        """Outputs for `x`: `(n, ...)` for one model, `(M, n, ...)` for a fleet (a list of
        them for several outputs)."""
        x = self._built_for(x, "predict")
        return training.predict(self, x, batch_size, verbose, steps)

    def _built_for(self, x, owner):
        """`x`, once the model is built for its examples: the model builds itself before the
        engine runs (from arrays, or a stream's first batch)."""
        if not self.built:
            self.ensure_built(sources.example_shape(x, owner))
        return x

    def __call__(self, x, training=None):
        """The model's output for arrays `x`, as a torch tensor; inside another model's
        `call`, its output for that call's tensors (a model used as a layer).

        `training=True` runs the layers in training mode, as Keras does: dropout stays on
        (Monte Carlo dropout: each call draws new masks from PyTorch's global generator) and
        BatchNormalization normalizes with the batch's statistics, updating its moving ones.
        """
        if lifting.in_model_call():
            return subclassing.call_in_model(self, x, training)
        return torch.as_tensor(self._outputs(x, bool(training)))

    def _outputs(self, x, in_training_mode):
        """`predict(x)` quietly, with the layers in training mode or not (`__call__`)."""
        x = self._built_for(x, "__call__")
        return training.predict(self, x, verbose=0, training=in_training_mode)

    # -- weights ---------------------------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    def get_weights(self):
        self.require_built("get_weights()")
        self.prepare_inference()
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        self.require_built("set_weights()")
        self.prepare_inference()
        weights = list(weights)
        expected = len(self.weights)
        if len(weights) != expected:
            raise InvalidArgumentError(
                f"set_weights expects {expected} arrays for model '{self.name}'. Got {len(weights)}."
            )
        for layer in self.layers:
            count = len(layer.weights)
            layer.set_weights(weights[:count])
            weights = weights[count:]

    def count_params(self):
        self.require_built("count_params()")
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, line_length=None, positions=None, print_fn=None):
        self.require_built("summary()")
        summary.print_summary(self, line_length, positions, print_fn)

    def save(self, filepath, overwrite=True):
        """Write the model (config, weights, optimizer state) to one file, atomically."""
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        saving.load_weights(self, filepath)

    def get_config(self):
        """The architecture and members as a JSON-able dict (see `netfleet.models.config`)."""
        return config.model_config(self)

    @classmethod
    def from_config(cls, model_config):
        """The model `model_config` describes (a `Sequential` or functional `Model`), with
        freshly initialised weights."""
        return config.model_from_config(model_config)

    def __repr__(self):
        members = f", members={self._members}" if self._members > 1 else ""
        return f"<{type(self).__name__} name={self.name}{members}>"


def _topological_nodes(inputs, outputs):
    """The nodes between `inputs` and `outputs`, each after the nodes it reads from."""
    input_ids = {id(t) for t in inputs}
    order, done = [], set()

    def visit(tensor):
        if id(tensor) in input_ids:
            return
        node = tensor.node
        if node is None or not node.inbound:
            raise InvalidArgumentError(
                f"Graph disconnected: {tensor} cannot be computed from the model's inputs "
                f"{[t.name for t in inputs]}."
            )
        if id(node) in done:
            return
        for parent in node.inbound:
            visit(parent)
        done.add(id(node))
        order.append(node)

    for tensor in outputs:
        visit(tensor)
    return order


def _rewrites_call(cls):
    """Whether `cls` writes a `call` of its own over the one that goes with its
    `pre_activation` (a subclass of Dense): its logits are then not `pre_activation`'s."""
    owners = [
        next(k for k in cls.__mro__ if name in vars(k)) for name in ("call", "pre_activation")
    ]
    return owners[0] is not owners[1] and issubclass(owners[0], owners[1])


def _check_inner_layers(model, layers):
    """Refuse to train a model whose user layer holds layers the model does not list (a
    Sequential lists the layers added to it): their weights would not be trained."""
    listed = {id(layer) for layer in layers}
    for layer in layers:
        missing = [inner.name for inner in layer.sublayers() if id(inner) not in listed]
        if missing:
            raise InvalidArgumentError(
                f"Layer '{layer.name}' of model '{model.name}' holds the layers "
                f"{', '.join(missing)}, which a {type(model).__name__} does not train. Use it "
                "in a functional model or a Model subclass, which train the layers it holds."
            )


def _checked_seed(seed, owner):
    """The model's seed: `seed` if it is an int >= 0, a fresh draw when it is None."""
    if seed is None:
        return seeding.draw_seed()
    return int(check_positive_int(seed, "seed", owner, minimum=0))
