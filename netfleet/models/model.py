"""`Model`: a graph of layer calls from `Input`s to outputs, trained as M members.

The model owns the graph and the member axis (how many members, their seeds and swept
settings, which are still training); training itself is `netfleet.engine.training`,
the printed summary `netfleet.models.summary`, files `netfleet.saving`.
"""

import torch

from netfleet import registry, saving
from netfleet.engine import data, training
from netfleet.engine.compiled import Compiled
from netfleet.engine.parameters import ParameterStore
from netfleet.errors import InvalidArgumentError, InvalidTypeError, NotBuiltError
from netfleet.layers import naming
from netfleet.layers.symbolic import SymbolicTensor, flatten
from netfleet.models import config, summary
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
        self.seed = int(seed) if seed is not None else seeding.draw_seed()
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
            if id(layer) not in seen:
                seen.add(id(layer))
                layers.append(layer)
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

    def final_activation(self):
        layer = self.outputs[0].node.layer
        return getattr(layer, "activation", None) if hasattr(layer, "pre_activation") else None

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
            self._store = ParameterStore(self.layers, self._members)
        return self._store

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

    def dropout_generators(self):
        """Generators of the distinct member seeds, and each member's group (None if 1:1)."""
        generators = self.member_generators(seeding.DROPOUT)
        first = {}
        for m, seed in enumerate(self.member_seeds):
            first.setdefault(seed, m)
        leaders = sorted(first.values())
        if len(leaders) == len(self.member_seeds) or len(leaders) == 1:
            return [generators[m] for m in leaders], None
        group = torch.tensor([leaders.index(first[s]) for s in self.member_seeds])
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
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Fix the optimizer, loss and metrics. Optimizer hyperparameters given as lists make
        the model a fleet with one member per value (per combination for several lists)."""
        for key in kwargs:
            if key not in ("loss_weights", "weighted_metrics", "run_eagerly", "jit_compile"):
                raise InvalidTypeError(f"compile() got an unexpected keyword argument {key!r}.")
        self.compiled = Compiled(optimizer, loss, metrics)
        members = self.compiled.optimizer.num_members
        if members > 1 or self._members == 1:
            self.set_members(members, params=self.compiled.optimizer.member_params)

    def require_compiled(self, owner):
        if self.compiled is None:
            raise RuntimeError(f"You must call compile() on the model before {owner}().")
        return self.compiled

    def fit(
        self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kwargs
    ):
        """Train for `epochs` epochs; returns a `History`. Keras' arguments, same defaults."""
        self._active = None
        x = self._built_for(x, "fit")
        return training.fit(self, x, y, batch_size, epochs, verbose, callbacks, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", **kwargs):
        """`[loss, *metrics]` (a scalar without metrics); arrays of shape (M,) for a fleet."""
        x = self._built_for(x, "evaluate")
        return training.evaluate(self, x, y, batch_size, verbose, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto"):
        """Outputs for `x`: `(n, ...)` for one model, `(M, n, ...)` for a fleet."""
        return training.predict(self, self._built_for(x, "predict"), batch_size, verbose)

    def _built_for(self, x, owner):
        """`x` as an array, the model built for its examples: the model builds itself before
        the engine runs."""
        array = data.to_array(x, "x", owner)
        self.ensure_built(array.shape[1:])
        return array

    def __call__(self, x):
        """The model's output for arrays `x`, as a torch tensor."""
        return torch.as_tensor(self.predict(x, verbose=0))

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
