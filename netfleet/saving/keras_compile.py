"""Keras 3's compile settings (a `.keras` file's `compile_config`) applied to a netfleet
model: the optimizer, loss, metrics and weighted metrics when netfleet has them by name, with
Keras' settings;
otherwise the model stays uncompiled, with a warning saying why.

Keras' optimizer state is not read: a compiled model starts `fit` with a fresh optimizer.
"""

import warnings

from netfleet import registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.layers import naming
from netfleet.saving import jsontext

# Keras' optimizer settings that netfleet's optimizers lack, accepted only when off
_OPTIMIZER_OFF = {"use_ema": False, "loss_scale_factor": None, "gradient_accumulation_steps": None}
_OPTIMIZER_IGNORED = {"name", "ema_momentum", "ema_overwrite_frequency"}
# a Keras loss object with these settings is netfleet's loss of the same name
_LOSS_DEFAULTS = {"reduction": "sum_over_batch_size", "from_logits": False, "label_smoothing": 0}
_LOSS_DEFAULTS.update({"axis": -1, "ignore_class": None, "dtype": None})


class _Unsupported(Exception):
    """A compile setting netfleet does not have: the model is loaded uncompiled."""


def compile_model(model, config, path):
    """Compile `model` as Keras' compile `config` says, or warn and leave it uncompiled."""
    try:
        arguments = _compile_arguments(config)
        model.compile(**arguments)
    except (_Unsupported, InvalidArgumentError, InvalidTypeError) as reason:
        warnings.warn(
            f"{path} is loaded uncompiled: {reason} Compile it with netfleet's optimizers, "
            "losses and metrics before fit().",
            stacklevel=4,
        )


def _compile_arguments(config):
    known = {"optimizer", "loss", "loss_weights", "metrics", "weighted_metrics"}
    known |= {"run_eagerly", "steps_per_execution", "jit_compile"}  # no effect on the numbers
    unknown = sorted(set(config) - known)
    if unknown:
        raise _Unsupported(
            f"its compile settings {jsontext.brief(unknown)} are unknown to netfleet."
        )
    return {
        "optimizer": _optimizer(config.get("optimizer")),
        "loss": _per_output(config.get("loss"), _loss),
        "metrics": _per_output(config.get("metrics"), _metric),
        "weighted_metrics": _per_output(config.get("weighted_metrics"), _metric),
        "loss_weights": config.get("loss_weights"),
    }


def _optimizer(value):
    if isinstance(value, str):
        return value
    kind = value.get("class_name") if isinstance(value, dict) else None
    cls = registry.entries("optimizer").get(kind)
    if cls is None or not isinstance(getattr(cls, "hyperparameters", None), dict):
        raise _Unsupported(f"its optimizer {jsontext.brief(kind)} is not one of netfleet's.")
    settings = value.get("config") if isinstance(value.get("config"), dict) else {}
    arguments = {}
    for key, setting in settings.items():
        if key in cls.hyperparameters:
            arguments[key] = _learning_rate(setting) if key == "learning_rate" else setting
        elif key in _OPTIMIZER_OFF:
            if setting != _OPTIMIZER_OFF[key]:
                raise _Unsupported(f"its optimizer sets {key}={setting!r}, which netfleet lacks.")
        elif key not in _OPTIMIZER_IGNORED:
            raise _Unsupported(f"its optimizer's setting {key!r} is unknown to netfleet.")
    return cls(**arguments)


def _learning_rate(value):
    """A number, or a learning-rate schedule netfleet has (by its Keras config)."""
    if not isinstance(value, dict):
        return value
    kind = value.get("class_name")
    if kind not in registry.entries("schedule") or not isinstance(value.get("config"), dict):
        raise _Unsupported(f"its learning-rate schedule {jsontext.brief(kind)} is not netfleet's.")
    return registry.get("schedule", kind).from_config(value["config"])


def _per_output(value, read):
    """`read` applied to each entry of a value given once, per output, or per output as a
    list (metrics)."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_per_output(item, read) if isinstance(item, list) else read(item) for item in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {key: _per_output(item, read) for key, item in value.items()}
    return read(value)


def _loss(value):
    """A loss's name: Keras' name, or a loss object of netfleet's with its default settings."""
    if isinstance(value, dict):
        kind = value.get("class_name")
        settings = value.get("config") if isinstance(value.get("config"), dict) else {}
        changed = {
            key: v
            for key, v in settings.items()
            if key != "name" and _LOSS_DEFAULTS.get(key, object()) != v
        }
        if changed:
            raise _Unsupported(
                f"its loss {jsontext.brief(kind)} has settings {jsontext.brief(changed)}."
            )
        value = naming.snake_case(kind) if isinstance(kind, str) else kind
    if value is not None and not isinstance(value, str):
        raise _Unsupported(f"its loss {jsontext.brief(value)} is not a name netfleet knows.")
    return value


def _metric(value):
    """A metric's name: Keras' name, or a metric class of netfleet's with no settings."""
    if isinstance(value, dict):
        kind = value.get("class_name")
        settings = value.get("config") if isinstance(value.get("config"), dict) else {}
        if set(settings) - {"name", "dtype"} or kind not in registry.entries("metric"):
            raise _Unsupported(f"its metric {jsontext.brief(kind)} is not one netfleet has.")
        return kind
    if not isinstance(value, str):
        raise _Unsupported(f"its metric {jsontext.brief(value)} is not a name netfleet knows.")
    return value
