"""Where each swept setting goes, and optimizers named by strings like the notebook's.

A setting is routed by its name, in this order: a parameter of the build function, a
hyperparameter of an optimizer (`learning_rate`, `momentum`, `beta_1`, ...), a compile
setting (`optimizer`, `loss`, `metrics`), a fit setting (`batch_size`, `epochs`, ...),
or `seed`. A build function taking `**kwargs` receives every name that routes nowhere else.
"""

import ast
import difflib
import inspect

from netfleet import optimizers
from netfleet.errors import InvalidArgumentError

BUILD = "build"
HYPERPARAMETER = "hyperparameter"
COMPILE = "compile"
FIT = "fit"
SEED = "seed"
DESTINATIONS = (BUILD, HYPERPARAMETER, COMPILE, FIT, SEED)

HYPERPARAMETERS = list(
    dict.fromkeys(name for cls in optimizers.CLASSES.values() for name in cls.hyperparameters)
)
COMPILE_SETTINGS = ("optimizer", "loss", "metrics")
FIT_SETTINGS = ("batch_size", "epochs", "shuffle", "validation_split", "class_weight")


def route(names, build):
    """The destination of each setting name, or one error naming every unknown name.

    Args:
        names: Setting names, in order.
        build: The build function; its parameters are found with `inspect.signature`.

    Returns:
        A dict name -> one of `BUILD`, `HYPERPARAMETER`, `COMPILE`, `FIT`, `SEED`.
    """
    parameters = inspect.signature(build).parameters.values()
    build_names = [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
    destinations = [
        (build_names, BUILD),
        (HYPERPARAMETERS, HYPERPARAMETER),
        (COMPILE_SETTINGS, COMPILE),
        (FIT_SETTINGS, FIT),
        ([SEED], SEED),
    ]
    routes, unknown = {}, []
    for name in names:
        found = next((where for valid, where in destinations if name in valid), None)
        if found is None and takes_any:
            found = BUILD
        if found is None:
            unknown.append(name)
        routes[name] = found
    if unknown:
        valid = [name for known, _ in destinations for name in known]
        raise InvalidArgumentError(
            f"Unknown settings {', '.join(map(_with_hint(valid), unknown))}: a setting must be "
            "a parameter of the build function, an optimizer hyperparameter, a compile or fit "
            f"setting, or 'seed'. Valid names: {', '.join(valid)}."
        )
    return routes


def _with_hint(valid):
    def describe(name):
        close = difflib.get_close_matches(name, valid, n=1)
        return repr(name) + (f" (did you mean {close[0]!r}?)" if close else "")

    return describe


def make_optimizer(identifier, hyperparameters=None):
    """A fresh optimizer from `identifier`, with `hyperparameters` set on top of its own.

    Args:
        identifier: A name (`"sgd"`), a call written as a string
            (`"SGD(learning_rate=0.01, momentum=0.3)"`, literals only, never evaluated), an
            `Optimizer` (copied, so that models never share one) or a config dict.
        hyperparameters: Settings that replace the optimizer's own. Defaults to none.

    Raises:
        InvalidArgumentError: the string is not such a call, or a hyperparameter does not
            exist for this optimizer or has an invalid value.
    """
    if isinstance(identifier, str) and not identifier.strip().isidentifier():
        cls, values = _parse_call(identifier)
        optimizer = cls(**values)
    else:
        optimizer = optimizers.get(identifier)
        optimizer = type(optimizer).from_config(optimizer.get_config())
    if optimizer.num_members != 1:
        raise InvalidArgumentError(
            f"sweep needs single-member optimizers; {optimizer!r} describes "
            f"{optimizer.num_members} members. Sweep its hyperparameters as settings instead."
        )
    if not hyperparameters:
        return optimizer
    return type(optimizer)(name=optimizer.name, **{**optimizer.member_config(0), **hyperparameters})


def _parse_call(text):
    """The optimizer class and keyword values of `"Name(arg, key=literal, ...)"`."""
    by_name = {name.lower(): cls for name, cls in optimizers.CLASSES.items()}
    expected = (
        "an optimizer name or a call of an optimizer class with literal arguments, "
        "e.g. 'SGD(learning_rate=0.01, momentum=0.3)'"
    )
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        node = None
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.lower() in by_name
        and all(keyword.arg is not None for keyword in node.keywords)
    ):
        raise InvalidArgumentError(
            f"The optimizer {text!r} cannot be read: it must be {expected}. "
            f"Known optimizers: {', '.join(optimizers.CLASSES)}."
        )
    cls = by_name[node.func.id.lower()]
    names = list(cls.hyperparameters)
    if len(node.args) > len(names):
        raise InvalidArgumentError(
            f"The optimizer {text!r} has {len(node.args)} positional arguments; "
            f"{cls.__name__} takes at most {len(names)} ({', '.join(names)})."
        )
    pairs = [*zip(names, node.args), *((k.arg, k.value) for k in node.keywords)]
    try:
        return cls, {name: ast.literal_eval(value) for name, value in pairs}
    except ValueError:
        raise InvalidArgumentError(
            f"The optimizer {text!r} cannot be read: its arguments must be literals "
            "(numbers, True/False), not expressions."
        ) from None
