"""One table of netfleet's public building blocks, by kind: what files may name and what the
common contract tests check.

A class or function is registered where it is defined (`@register("layer")`); a model file,
`get("optimizer", "Adam")` and the contract tests find it here and nowhere else, so a file
can only ever name a known, built-in object — never an importable path. Each kind's module
adds only other spellings of registered names (Keras' aliases such as `"mse"`).

Example:
    >>> import netfleet
    >>> get("optimizer", "Adam") is netfleet.optimizers.Adam
    True
    >>> "relu" in entries("activation")
    True
"""

from netfleet.errors import unknown_name_error

KINDS = (
    "activation",
    "callback",
    "initializer",
    "layer",
    "loss",
    "metric",
    "model",
    "optimizer",
    "schedule",
)

_TABLES = {kind: {} for kind in KINDS}


def register(kind, name=None):
    """Decorator: record the decorated object under `name` (its `__name__` by default)."""
    table = _table(kind)

    def decorate(obj):
        key = name or obj.__name__
        if key in table and table[key] is not obj:
            raise ValueError(f"Two {kind}s are registered as {key!r}.")
        table[key] = obj
        return obj

    return decorate


def get(kind, name):
    """The object registered as `name`; an error listing the known names otherwise."""
    table = _table(kind)
    if not isinstance(name, str) or name not in table:
        raise unknown_name_error(kind, name, sorted(table))
    return table[name]


def entries(kind):
    """A copy of the table of `kind`: name -> object."""
    return dict(_table(kind))


def _table(kind):
    if kind not in _TABLES:
        raise ValueError(f"Unknown registry kind {kind!r}; known: {', '.join(KINDS)}.")
    return _TABLES[kind]
