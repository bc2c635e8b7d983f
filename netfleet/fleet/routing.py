"""Where each setting goes: the build function, the optimizer, `compile`, `fit` or the seed.

The one resolver of `sweep` and the scikit-learn estimators. A name is routed, in order:

1. by its prefix, as scikeras and skorch route: `model__<name>` to the build function (which
   must take it), `optimizer__<hyperparameter>`, `compile__<argument>` and `fit__<argument>`
   (checked where they land). A prefixed name wins over the same name without prefix;
2. to the build function, when it is one of its parameters;
3. by name, where the caller allows it (`sweep` does; an estimator has its own parameters
   for these): an optimizer hyperparameter (`learning_rate`, `momentum`, `beta_1`, ...), a
   compile setting (`optimizer`, `loss`, `metrics`), a fit setting (`batch_size`, `epochs`,
   ...) or `seed`;
4. to a build function that takes `**kwargs`.

Optimizers named by strings like the notebook's are read here too (`make_optimizer`).
"""

import ast
import collections
import difflib
import inspect

from netfleet import optimizers
from netfleet.errors import InvalidArgumentError

Routes = collections.namedtuple("Routes", ["build", "optimizer", "compile", "fit", "seed"])
Routes.__doc__ = "Routed settings by destination: one dict name -> value each."

PREFIXES = {"model__": "build", "optimizer__": "optimizer", "compile__": "compile", "fit__": "fit"}
HYPERPARAMETERS = list(
    dict.fromkeys(name for cls in optimizers.CLASSES.values() for name in cls.hyperparameters)
)
COMPILE_SETTINGS = ("optimizer", "loss", "metrics")
FIT_SETTINGS = ("batch_size", "epochs", "shuffle", "validation_split", "class_weight")
BY_NAME = {
    "optimizer": HYPERPARAMETERS,
    "compile": COMPILE_SETTINGS,
    "fit": FIT_SETTINGS,
    "seed": ("seed",),
}


def build_arguments(build, reserved=()):
    """The names `build` takes as keywords (less `reserved`), and whether it takes `**kwargs`
    (then it takes any name). `None` (a model instance) takes none."""
    if build is None:
        return [], False
    parameters = inspect.signature(build).parameters.values()
    names = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in reserved
    ]
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def accepts(name, build, *, reserved=()):
    """Whether an estimator whose build function is `build` may take the setting `name`: a
    prefixed name always (`route` checks it), a plain one when it is a build argument, any
    name when `build` is not a function (whoever calls it reports that)."""
    if name.startswith(tuple(PREFIXES)) or (build is not None and not callable(build)):
        return True
    return _destination(name, *build_arguments(build, reserved), False) is not None


def route(settings, build, owner, *, by_name=False, reserved=()):
    """Split `settings` by destination, or raise one error naming every unroutable name.

    Args:
        settings: A dict name -> value; names plain or prefixed.
        build: The build function (`None` for a model instance, which takes no arguments).
        owner: Who routes (`"sweep"`, `"NetClassifier"`), for messages.
        by_name: Whether plain names may also reach the optimizer, compile, fit and seed
            (step 3 of the module docstring). Defaults to `False`.
        reserved: Build parameters that are never routed (the caller fills them in).
            Defaults to none.

    Returns:
        `Routes(build, optimizer, compile, fit, seed)`, dicts keyed by unprefixed names.
    """
    names, takes_any = build_arguments(build, reserved)
    routes = Routes({}, {}, {}, {}, {})
    plain, unknown = [], []
    for key, value in settings.items():
        found = _destination(key, names, takes_any, by_name)
        if found is None:
            unknown.append(key)
        elif key.startswith(tuple(PREFIXES)):
            getattr(routes, found[0])[found[1]] = value
        else:
            plain.append((found, value))
    if unknown:
        raise _unroutable(unknown, owner, build, names, by_name)
    for (where, name), value in plain:
        getattr(routes, where).setdefault(name, value)
    return routes


def _destination(key, names, takes_any, by_name):
    """`(destination, name)` for setting `key`, or None when it reaches nothing."""
    prefix = next((p for p in PREFIXES if key.startswith(p)), None)
    if prefix is not None:
        name, where = key[len(prefix) :], PREFIXES[prefix]
        return None if where == "build" and not (takes_any or name in names) else (where, name)
    if key in names:
        return "build", key
    if by_name:
        for where, valid in BY_NAME.items():
            if key in valid:
                return where, key
    return ("build", key) if takes_any else None


def _unroutable(unknown, owner, build, names, by_name):
    valid = [*names, *(name for known in BY_NAME.values() for name in known)] if by_name else names
    function = getattr(build, "__name__", "the model instance")
    rule = f"a parameter of {function}"
    if by_name:
        rule += ", an optimizer hyperparameter, a compile or fit setting, or 'seed'"
    return InvalidArgumentError(
        f"{owner} cannot route {', '.join(_with_hint(key, valid) for key in unknown)}: a name "
        f"must be {rule}, or carry a prefix ({', '.join(PREFIXES)}). "
        f"Valid names: {', '.join(valid) or 'none'}."
    )


def _with_hint(key, valid):
    prefix = next((p for p in PREFIXES if key.startswith(p)), "")
    close = difflib.get_close_matches(key[len(prefix) :], valid, n=1)
    return repr(key) + (f" (did you mean {close[0]!r}?)" if close else "")


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
            f"Sweeps and searches need single-member optimizers; {optimizer!r} describes "
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
