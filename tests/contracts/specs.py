"""What the contract checks cannot guess about a registered entry, one row each, like the
rows of PyTorch's module database: example constructor arguments, the task it is tried on,
and constructor calls that must fail. An entry without a row gets its kind's defaults, so
a class whose constructor needs no arguments is covered by being registered.
"""

import dataclasses
import inspect

import pytest

from netfleet import Input, registry  # importing netfleet registers every built-in entry
from netfleet.layers import Dense, InputLayer, Layer
from netfleet.optimizers import SGD, Adam, MixedOptimizer, RMSprop


@dataclasses.dataclass(frozen=True)
class Spec:
    """One registered entry's row.

    Attributes:
        args: Example constructor arguments, or a function of a scratch folder giving them
            (for paths, and for arguments that must be fresh objects each time).
        bad: `(arguments, name)` pairs: constructor calls (over `args`) that must fail with
            the library's sentence about argument `name`; a third item names the owner the
            sentence gives when it is not `owner`.
        gaps: Like `bad`, for calls not refused that way yet: strict expected failures.
        owner: The owner the sentence names, when it is not the class.
        task: The data and output head the entry is tried on (see `trials.TASKS`).
        example_shape: The shape of one example of the data.
        inputs: `"values"` (normal floats) or `"indices"` (integers in [0, 10)).
        wiring: Layers only: where the layer sits (see `trials.trial`): `"chain"` after a
            hidden Dense layer, `"first"` right after the input, `"merge"` on two branches.
        in_memory_only: The entry holds code, so it refuses to be stored, saved or stacked
            (a fleet of it is made by compiling with a list of learning rates instead).
        members: Optimizers only: a function giving the three single models' optimizers
            of the fleet check.
        marks: pytest marks of the checks that train with the entry.
    """

    args: object = dataclasses.field(default_factory=dict)
    bad: tuple = ()
    gaps: tuple = ()
    owner: str | None = None
    task: str = "binary"
    example_shape: tuple = (4,)
    inputs: str = "values"
    wiring: str = "chain"
    in_memory_only: bool = False
    members: object = None
    marks: tuple = ()


def _sequential_args(folder):
    layers = [Dense(4, input_shape=(4,), activation="tanh"), Dense(1, activation="sigmoid")]
    return {"layers": layers, "seed": 0}


def _functional_args(folder):
    inputs = Input(shape=(4,))
    outputs = Dense(1, activation="sigmoid")(Dense(4, activation="tanh")(inputs))
    return {"inputs": inputs, "outputs": outputs, "seed": 0}


_NOT_CHECKED = "not checked by the constructor yet (not this suite's file to fix)"

DEFAULTS = {"optimizer": Spec(args={"learning_rate": 0.05})}

SPECS = {
    # -- layers ----------------------------------------------------------------------------
    ("layer", "InputLayer"): Spec(
        args={"shape": (4,)},
        bad=(({"shape": (0,)}, "shape"), ({"shape": "four"}, "shape")),
        owner="Input",
    ),
    ("layer", "Dense"): Spec(
        args={"units": 3, "activation": "relu"},
        bad=(({"units": 0}, "units"), ({"units": 2.5}, "units"), ({"use_bias": "yes"}, "use_bias")),
    ),
    ("layer", "Activation"): Spec(args={"activation": "tanh"}),
    ("layer", "Dropout"): Spec(
        args={"rate": 0.5},
        bad=(({"rate": 1.0}, "rate"), ({"rate": "half"}, "rate"), ({"seed": "x"}, "seed")),
    ),
    ("layer", "Flatten"): Spec(example_shape=(2, 3)),
    ("layer", "Conv1D"): Spec(
        args={"filters": 2, "kernel_size": 3, "activation": "relu"},
        bad=(({"filters": 0}, "filters"), ({"kernel_size": 0}, "kernel_size")),
        example_shape=(6, 2),
    ),
    ("layer", "Conv2D"): Spec(
        args={"filters": 2, "kernel_size": 2, "padding": "same"},
        bad=(({"filters": 0}, "filters"), ({"padding": "full"}, "padding")),
        example_shape=(4, 4, 2),
    ),
    ("layer", "MaxPooling1D"): Spec(bad=(({"pool_size": 0}, "pool_size"),), example_shape=(6, 2)),
    ("layer", "AveragePooling1D"): Spec(
        bad=(({"pool_size": 0}, "pool_size"),), example_shape=(6, 2)
    ),
    ("layer", "MaxPooling2D"): Spec(
        bad=(({"pool_size": 0}, "pool_size"),), example_shape=(4, 4, 2)
    ),
    ("layer", "AveragePooling2D"): Spec(
        bad=(({"pool_size": 0}, "pool_size"),), example_shape=(4, 4, 2)
    ),
    ("layer", "GlobalMaxPooling1D"): Spec(
        bad=(({"keepdims": "yes"}, "keepdims"),), example_shape=(6, 2)
    ),
    ("layer", "GlobalAveragePooling1D"): Spec(
        bad=(({"keepdims": "yes"}, "keepdims"),), example_shape=(6, 2)
    ),
    ("layer", "GlobalMaxPooling2D"): Spec(
        bad=(({"keepdims": "yes"}, "keepdims"),), example_shape=(4, 4, 2)
    ),
    ("layer", "GlobalAveragePooling2D"): Spec(
        bad=(({"keepdims": "yes"}, "keepdims"),), example_shape=(4, 4, 2)
    ),
    ("layer", "BatchNormalization"): Spec(
        args={"momentum": 0.9},
        bad=(({"momentum": 2.0}, "momentum"), ({"center": "yes"}, "center")),
    ),
    ("layer", "LayerNormalization"): Spec(bad=(({"epsilon": 0}, "epsilon"),)),
    ("layer", "Normalization"): Spec(
        args={"mean": [0.1, 0.2, 0.3, 0.4], "variance": [1.0, 2.0, 1.0, 2.0]},
        bad=(({"invert": "yes"}, "invert"),),
    ),
    ("layer", "Rescaling"): Spec(
        args={"scale": 0.5, "offset": 0.1}, bad=(({"scale": "half"}, "scale"),)
    ),
    ("layer", "Reshape"): Spec(
        args={"target_shape": (2, 2)}, bad=(({"target_shape": (0,)}, "target_shape"),)
    ),
    ("layer", "Embedding"): Spec(
        args={"input_dim": 10, "output_dim": 3},
        bad=(({"input_dim": 0}, "input_dim"), ({"mask_zero": True}, "mask_zero")),
        example_shape=(5,),
        inputs="indices",
        wiring="first",
    ),
    ("layer", "Lambda"): Spec(
        args={"function": lambda x: x * 2.0},
        bad=(({"function": 5}, "function"), ({"arguments": 5}, "arguments")),
        in_memory_only=True,
    ),
    ("layer", "Concatenate"): Spec(wiring="merge", bad=(({"axis": "x"}, "axis"),)),
    ("layer", "Add"): Spec(wiring="merge"),
    ("layer", "Subtract"): Spec(wiring="merge"),
    ("layer", "Multiply"): Spec(wiring="merge"),
    ("layer", "Average"): Spec(wiring="merge"),
    ("layer", "Maximum"): Spec(wiring="merge"),
    ("layer", "Minimum"): Spec(wiring="merge"),
    # -- initializers ----------------------------------------------------------------------
    ("initializer", "Constant"): Spec(args={"value": 0.3}, bad=(({"value": "x"}, "value"),)),
    ("initializer", "RandomUniform"): Spec(
        args={"minval": -0.1, "maxval": 0.2},
        bad=(({"minval": 1.0, "maxval": 0.0}, "maxval"), ({"minval": "low"}, "minval")),
    ),
    ("initializer", "RandomNormal"): Spec(
        args={"mean": 0.1, "stddev": 0.2},
        bad=(({"stddev": 0.0}, "stddev"), ({"mean": "zero"}, "mean")),
    ),
    ("initializer", "VarianceScaling"): Spec(
        args={"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
        bad=(
            ({"scale": 0.0}, "scale"),
            ({"mode": "fan"}, "mode"),
            ({"distribution": "normal"}, "distribution"),
        ),
    ),
    # -- losses: the data each one reads ---------------------------------------------------
    ("loss", "categorical_crossentropy"): Spec(task="categorical"),
    ("loss", "sparse_categorical_crossentropy"): Spec(task="sparse"),
    ("loss", "mean_squared_error"): Spec(task="regression"),
    ("loss", "mean_absolute_error"): Spec(task="regression"),
    # -- metrics ---------------------------------------------------------------------------
    ("metric", "categorical_accuracy"): Spec(task="categorical"),
    ("metric", "sparse_categorical_accuracy"): Spec(task="sparse"),
    ("metric", "Accuracy"): Spec(args={"kind": "binary"}, bad=(({"kind": "exact"}, "kind"),)),
    ("metric", "AUC"): Spec(
        args={"num_thresholds": 50}, bad=(({"num_thresholds": 1}, "num_thresholds"),)
    ),
    ("metric", "MeanSquaredError"): Spec(task="regression"),
    ("metric", "MeanAbsoluteError"): Spec(task="regression"),
    ("metric", "RootMeanSquaredError"): Spec(task="regression"),
    ("metric", "Precision"): Spec(
        args={"thresholds": 0.4},
        bad=(
            ({"thresholds": 1.5}, "thresholds"),
            ({"thresholds": [0.3, 0.6]}, "thresholds"),
            ({"top_k": 0}, "top_k"),
            ({"class_id": -1}, "class_id"),
        ),
    ),
    ("metric", "Recall"): Spec(
        args={"thresholds": [0.6]},
        bad=(({"thresholds": "half"}, "thresholds"), ({"top_k": 1.5}, "top_k")),
    ),
    ("metric", "TopKCategoricalAccuracy"): Spec(
        task="categorical", args={"k": 2}, bad=(({"k": 0}, "k"),)
    ),
    ("metric", "SparseTopKCategoricalAccuracy"): Spec(
        task="sparse", args={"k": 2}, bad=(({"k": 0}, "k"),)
    ),
    # -- optimizers: settings that use their state slots -----------------------------------
    ("optimizer", "SGD"): Spec(args={"learning_rate": 0.1, "momentum": 0.5, "nesterov": True}),
    ("optimizer", "RMSprop"): Spec(args={"learning_rate": 0.01, "momentum": 0.3, "centered": True}),
    ("optimizer", "Adam"): Spec(args={"learning_rate": 0.01}),
    ("optimizer", "AdamW"): Spec(
        args={"learning_rate": 0.01, "weight_decay": 0.05, "amsgrad": True, "global_clipnorm": 1.0},
        bad=(({"weight_decay": None}, "weight_decay"), ({"clipnorm": 1.0}, "global_clipnorm")),
    ),
    ("optimizer", "Lion"): Spec(
        args={"learning_rate": 0.005, "weight_decay": 0.01, "clipvalue": 0.5},
        bad=(({"beta_1": 0.0}, "beta_1"), ({"clipnorm": 1.0}, "clipvalue")),
    ),
    ("optimizer", "MixedOptimizer"): Spec(
        args=lambda folder: {"parts": [(SGD(learning_rate=0.1, momentum=0.5), 1)]},
        bad=(({"parts": []}, "parts"), ({"parts": [(SGD(), 0)]}, "parts")),
        members=lambda: [SGD(learning_rate=0.1), Adam(learning_rate=0.01), RMSprop()],
    ),
    # -- callbacks -------------------------------------------------------------------------
    ("callback", "CSVLogger"): Spec(
        args=lambda folder: {"filename": str(folder / "log.csv")},
        bad=(
            ({"filename": None}, "filename"),
            ({"separator": ";;"}, "separator"),
            ({"append": "yes"}, "append"),
        ),
    ),
    ("callback", "EarlyStopping"): Spec(
        args={"monitor": "loss", "patience": 0, "min_delta": 0.1, "restore_best_weights": True},
        bad=(
            ({"patience": -1}, "patience"),
            ({"mode": "lowest"}, "mode"),
            ({"min_delta": "small"}, "min_delta"),
            ({"baseline": "high"}, "baseline"),
            ({"restore_best_weights": "yes"}, "restore_best_weights"),
            ({"monitor": 5}, "monitor"),
            ({"start_from_epoch": -1}, "start_from_epoch"),
        ),
    ),
    ("callback", "ModelCheckpoint"): Spec(
        args=lambda folder: {
            "filepath": str(folder / "ckpt-{epoch}.keras"),
            "monitor": "loss",
            "save_best_only": True,
        },
        bad=(
            ({"filepath": 5}, "filepath"),
            ({"save_freq": 0}, "save_freq"),
            ({"save_best_only": "yes"}, "save_best_only"),
            ({"initial_value_threshold": "x"}, "initial_value_threshold"),
        ),
    ),
    ("callback", "TensorBoard"): Spec(
        args=lambda folder: {"log_dir": str(folder / "logs")},
        bad=(
            ({"log_dir": 5}, "log_dir"),
            ({"histogram_freq": -1}, "histogram_freq"),
            ({"update_freq": "step"}, "update_freq"),
            ({"write_graph": "yes"}, "write_graph"),
        ),
        # Its writer imports TensorBoard's event code (and TensorFlow when installed): ~10 s.
        marks=(pytest.mark.slow,),
    ),
    ("callback", "LambdaCallback"): Spec(
        args={"on_epoch_end": lambda epoch, logs: None},
        bad=(({"on_epoch_end": 5}, "on_epoch_end"),),
    ),
    ("callback", "ReduceLROnPlateau"): Spec(
        args={"monitor": "loss", "factor": 0.5, "patience": 0, "min_delta": 0.0},
        bad=(
            ({"factor": 1.0}, "factor"),
            ({"factor": "half"}, "factor"),
            ({"patience": -1}, "patience"),
            ({"cooldown": -1}, "cooldown"),
            ({"min_lr": -0.1}, "min_lr"),
            ({"mode": "lowest"}, "mode"),
            ({"monitor": 5}, "monitor"),
        ),
    ),
    ("callback", "LearningRateScheduler"): Spec(
        args={"schedule": lambda epoch, lr: lr * 0.5 if epoch else lr},
        bad=(({"schedule": 5}, "schedule"),),
    ),
    # -- learning-rate schedules -----------------------------------------------------------
    ("schedule", "ExponentialDecay"): Spec(
        args={"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5, "staircase": True},
        bad=(({"decay_steps": 0}, "decay_steps"), ({"staircase": "yes"}, "staircase")),
    ),
    ("schedule", "InverseTimeDecay"): Spec(
        args={"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": [0.5, 1.0]},
        bad=(({"decay_rate": -1.0}, "decay_rate"), ({"decay_steps": []}, "decay_steps")),
    ),
    ("schedule", "CosineDecay"): Spec(
        args={
            "initial_learning_rate": 0.0,
            "decay_steps": 10,
            "warmup_target": 0.1,
            "warmup_steps": 3,
        },
        bad=(({"alpha": 2.0}, "alpha"), ({"warmup_target": "x"}, "warmup_target")),
    ),
    ("schedule", "PiecewiseConstantDecay"): Spec(
        args={"boundaries": [5, 10], "values": [0.1, 0.05, 0.01]},
        bad=(
            ({"boundaries": [10, 5]}, "boundaries"),
            ({"values": [0.1, 0.05]}, "values"),
            ({"name": 5}, "name"),
        ),
    ),
    # -- models ----------------------------------------------------------------------------
    ("model", "Sequential"): Spec(
        args=_sequential_args,
        bad=(
            ({"layers": [5]}, "layer", "Sequential.add"),
            ({"layers": 5}, "layers"),
            ({"seed": "x"}, "seed"),
        ),
    ),
    ("model", "Model"): Spec(
        args=_functional_args,
        bad=(({"inputs": 5}, "inputs"), ({"seed": "x"}, "seed")),
    ),
}


def spec(kind, name):
    """The row of entry `name` of `kind`, or its kind's default row."""
    return SPECS.get((kind, name), DEFAULTS.get(kind, Spec()))


def arguments(kind, name, folder):
    """Fresh example constructor arguments of entry `name`."""
    args = spec(kind, name).args
    return dict(args(folder) if callable(args) else args)


def instance(kind, name, folder):
    """An instance of registered class `name`, built from its example arguments."""
    cls = registry.get(kind, name)
    args = arguments(kind, name, folder)
    try:
        return cls(**args)
    except TypeError as error:
        raise AssertionError(
            f"Cannot build {kind} {name} from {args}: give it a row with example arguments "
            f"in tests/contracts/specs.py ({error})."
        ) from error


def is_class(obj):
    return inspect.isclass(obj)


def declares_stage(obj):
    """Whether layer class `obj` declares its own fast path (`Layer.stage`)."""
    return inspect.isclass(obj) and issubclass(obj, Layer) and obj.stage is not Layer.stage


def storable(kind, name, obj):
    """Whether the entry can be stored in a file (it holds no code)."""
    return not spec(kind, name).in_memory_only


def cases(*kinds, where=None):
    """pytest parameters `(kind, name, obj)`, one per registered entry of `kinds` for which
    `where(kind, name, obj)` holds, with the entry's marks."""
    return [
        pytest.param(kind, name, obj, id=f"{kind}:{name}", marks=spec(kind, name).marks)
        for kind in kinds
        for name, obj in registry.entries(kind).items()
        if where is None or where(kind, name, obj)
    ]


def bad_calls():
    """pytest parameters `(kind, name, call, argument, owner)`: every constructor call that
    must be refused with the library's sentence about `argument` of `owner`. The kinds'
    shared arguments (a layer's input_shape, an initializer's seed, a metric's name, an
    optimizer's declared hyperparameters) are added to each row's own calls."""
    params = []
    for kind in registry.KINDS:
        for name, obj in registry.entries(kind).items():
            if not inspect.isclass(obj):
                continue
            row = spec(kind, name)
            default_owner = row.owner or name
            for call, argument, *owner in (*row.bad, *_shared_bad_calls(kind, obj)):
                values = (kind, name, call, argument, owner[0] if owner else default_owner)
                params.append(pytest.param(*values, id=f"{name}:{argument}"))
            for call, argument, *owner in row.gaps:
                values = (kind, name, call, argument, owner[0] if owner else default_owner)
                mark = pytest.mark.xfail(strict=True, reason=f"{name}: '{argument}' {_NOT_CHECKED}")
                params.append(pytest.param(*values, id=f"{name}:{argument}", marks=mark))
    return params


def _shared_bad_calls(kind, cls):
    parameters = inspect.signature(cls).parameters
    if kind == "layer" and cls is not InputLayer:
        yield {"input_shape": (0,)}, "input_shape"
    if kind == "initializer" and "seed" in parameters:
        yield {"seed": "x"}, "seed"
    if kind == "metric" and "name" in parameters:
        yield {"name": 5}, "name"
    if kind == "optimizer" and not issubclass(cls, MixedOptimizer):
        for key in cls.hyperparameters:
            yield {key: "x"}, key
