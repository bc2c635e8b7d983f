"""The bounds a model or weights file is held to before anything it declares is read or built.

A file is untrusted input: each number below caps how much memory or time one declaration in
it may cost. Every bound is far above what netfleet itself writes for the models it can train,
and a file beyond one is refused with a `ModelFileError` that names the bound.
"""

MAX_CONFIG_BYTES = 16 * 2**20
"""The largest `config.json`, uncompressed."""

MAX_HEADER_BYTES = 16 * 2**20
"""The largest safetensors header (the JSON table of tensor names, dtypes, shapes, offsets)."""

MAX_JSON_DEPTH = 64
"""The deepest nesting of JSON objects and lists (a model config nests about ten deep)."""

MAX_ENTRIES = 16
"""The most entries a model file's zip directory may list (netfleet writes two)."""

MAX_DIRECTORY_BYTES = 64 * 2**10
"""The largest zip directory (netfleet's is about 150 bytes)."""

MAX_COMPRESSION_RATIO = 100
"""How many times its compressed size a zip entry larger than `RATIO_FREE_BYTES` may unpack
to (netfleet stores its weights uncompressed; a zip bomb unpacks to a thousand times more)."""

RATIO_FREE_BYTES = 2**20
"""Zip entries up to this size unpacked are bounded by their size alone."""

MAX_LAYERS = 1000
"""The most layers, and layer calls (graph nodes), a model config may list."""

MAX_GRAPH_DEPTH = 500
"""The longest chain of layer calls in a functional model's graph."""

MAX_MEMBERS = 10_000
"""The most members a model config may declare."""

MAX_METRIC_THRESHOLDS = 100_000
"""The most thresholds a metric in a compile config may declare (`AUC`'s default is 200)."""
