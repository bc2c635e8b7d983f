"""Shared helpers for the benchmarks in ``bench/``.

Only the standard library and numpy are imported here, so that any interpreter that runs a
benchmark child (for example a separate Keras virtual environment) can import this module.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "@@BENCH_RESULT "

MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


# --------------------------------------------------------------------------- data
def default_data_dir() -> Path:
    """``$NETFLEET_DATA`` if set, else ``../shared/data`` relative to the repository root."""
    env = os.environ.get("NETFLEET_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


def mnist_dir(data_dir: str | os.PathLike | None) -> Path:
    """The folder holding the four MNIST IDX gzip files.

    ``data_dir`` may be the data root (with an ``mnist/`` subfolder) or the MNIST folder itself.
    """
    root = Path(data_dir).expanduser().resolve() if data_dir else default_data_dir()
    for cand in (root / "mnist", root):
        if all((cand / f).is_file() for f in MNIST_FILES.values()):
            return cand
    raise FileNotFoundError(
        f"MNIST IDX files ({', '.join(MNIST_FILES.values())}) not found in {root} or {root / 'mnist'}"
    )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one gzip-compressed IDX file (unsigned-byte data) into a numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    shape = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {shape} bytes of data, got {data.size}")
    return data.reshape(shape)


def load_mnist(data_dir=None):
    """``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, like ``keras.datasets.mnist``."""
    d = mnist_dir(data_dir)
    arr = {k: read_idx(d / f) for k, f in MNIST_FILES.items()}
    return (arr["x_train"], arr["y_train"]), (arr["x_test"], arr["y_test"])


# --------------------------------------------------------------------------- timing
def epoch_stats(times: list[float]) -> dict:
    """Median, mean and min of the epochs after the first (the first pays warm-up / tracing).

    `spread` is max / min of those epochs: near 1 on a quiet host; well above 1 means other
    work shared the CPUs during the run (then prefer `min_s`, or run again).
    """
    times = [float(t) for t in times]
    steady = times[1:] if len(times) > 1 else times
    return {
        "epoch_times": times,
        "first_epoch_s": times[0] if times else None,
        "median_s": statistics.median(steady) if steady else None,
        "mean_s": statistics.fmean(steady) if steady else None,
        "min_s": min(steady) if steady else None,
        "spread": max(steady) / min(steady) if steady and min(steady) > 0 else None,
    }


def load_average() -> float | None:
    """The 1-minute load average, or None where the platform has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def set_thread_env(env: dict, threads: int) -> dict:
    """Environment variables that cap the thread pools of torch / TF / BLAS in a child."""
    t = str(threads)
    env.update(
        OMP_NUM_THREADS=t,
        MKL_NUM_THREADS=t,
        OPENBLAS_NUM_THREADS=t,
        TF_NUM_INTRAOP_THREADS=t,
        TF_NUM_INTEROP_THREADS=t,
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return env


# --------------------------------------------------------------------------- reporting
def emit(result: dict) -> None:
    """Print one result line for the parent process to collect."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=_jsonable) + "\n")
    sys.stdout.flush()


def parse_results(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            out.append(json.loads(line[len(RESULT_PREFIX) :]))
    return out


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
    }


def fmt(x, spec=".3f", none="-"):
    if x is None:
        return none
    try:
        return format(x, spec)
    except (TypeError, ValueError):
        return str(x)


def print_table(headers: list[str], rows: list[list[str]], file=None) -> None:
    """A GitHub-flavoured markdown table, columns padded for reading in a terminal."""
    file = file or sys.stdout
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    print(line(headers), file=file)
    print("| " + " | ".join("-" * w for w in widths) + " |", file=file)
    for r in rows:
        print(line(r), file=file)


def spawn(script: str, system: str, cfg: dict, python: str, timeout: float) -> dict:
    """Run `script --child system` in a fresh process with `cfg`; its last JSON result line."""
    env = set_thread_env(dict(os.environ), cfg["threads"])
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env["PYTHONUNBUFFERED"] = "1"
    if system in ("keras", "scikeras"):
        env["KERAS_BACKEND"] = "tensorflow"
    cmd = [
        python,
        str(Path(script).resolve()),
        "--child",
        system,
        "--child-config",
        json.dumps(cfg),
    ]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            cmd,
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(REPO_ROOT),
        )
    except subprocess.TimeoutExpired:
        return {"system": system, "error": f"timed out after {timeout:.0f} s"}
    except OSError as e:
        return {"system": system, "error": f"cannot start {python}: {e}"}
    wall = time.perf_counter() - t0
    results = parse_results(p.stdout)
    if results:
        r = results[-1]
    else:
        tail = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        r = {
            "system": system,
            "error": f"child exited with status {p.returncode}: {tail[-1] if tail else 'no output'}",
        }
    r["process_wall_s"] = wall
    if "error" in r:
        r["stderr_tail"] = p.stderr[-4000:]
    return r


def add_run_arguments(ap, systems, timeout, keras_help):
    """The options every benchmark shares: which systems, threads, repeats, where the Keras
    child runs, limits, output, and the hidden child-mode switches."""
    import argparse

    ap.add_argument(
        "--only",
        default=",".join(systems),
        help=f"comma-separated systems to run, from {', '.join(systems)}",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every system this many times, order alternating; keep each one's fastest",
    )
    ap.add_argument("--keras-python", default=None, help=keras_help)
    ap.add_argument("--timeout", type=float, default=timeout, help="seconds per child process")
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="print the stderr of a failing child"
    )
    ap.add_argument("--child", choices=systems, help=argparse.SUPPRESS)
    ap.add_argument("--child-config", help=argparse.SUPPRESS)


def selected_systems(ap, text, systems, aliases=None):
    """The systems named in `--only`, in the benchmark's own order (unknown names: an error)."""
    aliases = aliases or {}
    chosen = set()
    for name in text.split(","):
        name = aliases.get(name.strip().lower(), name.strip().lower())
        if not name:
            continue
        if name not in systems:
            ap.error(f"unknown system {name!r}; choose from {', '.join(systems)}")
        chosen.add(name)
    return [s for s in systems if s in chosen]


def run_child(system, run):
    """Child-process entry: `run()` one system and print its one JSON result line (or the
    error, so the parent reports it and goes on)."""
    result = {"system": system, "load_start": load_average()}
    try:
        result.update(run())
    except Exception as e:  # noqa: BLE001 - the parent reports the error and goes on
        import traceback

        traceback.print_exc(file=sys.stderr)
        result["error"] = f"{type(e).__name__}: {e}"
    result["load_end"] = load_average()
    emit(result)


def report_conditions(results, systems, verbose, noisy=(), hint="use --repeat"):
    """Print the warnings every benchmark ends with: a busy host (load average above the
    cores, or `noisy` systems whose epochs varied), and the systems that did not run."""
    loads = [
        x
        for r in results.values()
        for x in (r.get("load_start"), r.get("load_end"))
        if x is not None
    ]
    cpus = os.cpu_count() or 1
    busy = bool(loads) and max(loads) > cpus
    if busy or noisy:
        load = f"load average up to {max(loads):.1f} on {cpus} cpus" if loads else "no load"
        where = f"; noisy epochs in: {', '.join(noisy)}" if noisy else ""
        print(
            f"\nWARNING: the host was busy ({load}{where}). These timings are not reliable: "
            f"rerun on a quiet host or {hint}."
        )
    for s in systems:
        if s in results and "error" in results[s]:
            print(f"\n{s} unavailable: {results[s]['error']}")
            if verbose and results[s].get("stderr_tail"):
                print(results[s]["stderr_tail"])


def write_results(path, bench, config, results, **extra):
    """Write a benchmark's results as indented JSON (with the machine and the time), through
    a temporary file renamed into place, and say where."""
    document = {
        "bench": bench,
        "config": config,
        "machine": machine_info(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "results": results,
        **extra,
    }
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")
    os.replace(partial, target)
    print(f"\nresults written to {path}")


def tensorflow_keras(threads):
    """Import TensorFlow and Keras 3 for a Keras child: TensorFlow backend, `threads` threads.

    Returns (tensorflow, keras, seconds the imports took); the child imports its Keras classes
    afterwards, at no measurable cost.
    """
    os.environ["KERAS_BACKEND"] = "tensorflow"
    started = time.perf_counter()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    seconds = time.perf_counter() - started
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"Keras backend is {keras.backend.backend()!r}, not tensorflow")
    return tf, keras, seconds


def ratio(a, b):
    """a / b, or None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b
