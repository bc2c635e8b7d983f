#!/usr/bin/env python
"""The notebook's four comparison loops on banknotes, timed as netfleet sweeps, as netfleet
models trained one at a time, and in Keras.

The notebook (gradient descent, banknotes) trains `Sequential([Dense(1, input_shape=(4,),
activation='sigmoid')])` with binary cross-entropy on the standardised banknotes
(`scale`, `train_test_split(test_size=0.3, random_state=42)`) in four loops:

  learning_rate   SGD(learning_rate=lr), lr in [0.01, 0.05, 0.1, 0.5], batch 16, 10 epochs
  batch_size      'sgd', batch size in [16, 32, 64, 128], 10 epochs
  optimizer       6 optimizer strings ('SGD(learning_rate=0.01)', ...), batch 16, 5 epochs
  initializer     5 kernel initializers with 'rmsprop', batch 16, 5 epochs

Systems (each in a fresh subprocess, capped at --threads threads):
  sweep   netfleet.fleet.sweep, one call per loop (configurations that can share a run are
          trained as one fleet)
  single  the notebook's loops with the imports changed to netfleet: one model at a time
  keras   the notebook's loops in Keras 3 / TensorFlow: K.clear_session(), build, compile,
          fit(verbose=0)

    python bench/notebook_sweeps.py [--only sweep,single,keras] [--repeat 1] [--json out.json]

Each loop's time runs from its first model to its `historydf` (the per-configuration
histories in one DataFrame). Every model is seeded with `set_random_seed(--seed)` before it
is built, as `sweep(..., seed=...)` does, so the sweep's final losses must equal the
one-at-a-time runs'; the bench checks that. Compare ratios taken in one run, never absolute
seconds across runs: the host is noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

SYSTEMS = ("sweep", "single", "keras")
ALIASES = {"fleet": "sweep", "netfleet": "single", "one": "single", "tf": "keras"}
LABELS = {
    "sweep": "netfleet sweep (one call per loop)",
    "single": "netfleet, one model at a time",
    "keras": "keras 3 / tensorflow, one at a time",
}

# The notebook's four loops: name, the values it loops over, and what stays fixed.
LEARNING_RATES = [0.01, 0.05, 0.1, 0.5]
BATCH_SIZES = [16, 32, 64, 128]
OPTIMIZERS = [
    "SGD(learning_rate=0.01)",
    "SGD(learning_rate=0.01, momentum=0.3)",
    "SGD(learning_rate=0.01, momentum=0.3, nesterov=True)",
    "Adam(learning_rate=0.01)",
    "Adagrad(learning_rate=0.01)",
    "RMSprop(learning_rate=0.01)",
]
INITIALIZERS = ["zeros", "uniform", "normal", "he_normal", "lecun_uniform"]
LOOPS = (
    ("learning_rate", "learning rates", LEARNING_RATES),
    ("batch_size", "batch sizes", BATCH_SIZES),
    ("optimizer", "optimizers", OPTIMIZERS),
    ("initializer", "initializers", INITIALIZERS),
)
EQUAL_TOL = 1e-5


# =========================================================================== data (parent)
def prepare_banknotes(data_dir, path: Path) -> dict:
    """The notebook's data, written to `path` (.npz) so that children need only numpy:
    `scale(df.drop('class', axis=1).values)`, `train_test_split(test_size=0.3,
    random_state=42)`. Reads `banknotes.csv` from the data folder, else netfleet's copy."""
    import pandas as pd
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import scale

    root = Path(data_dir).expanduser().resolve() if data_dir else C.default_data_dir()
    csv = next(
        (p for p in (root / "banknotes.csv", root / "banknotes" / "banknotes.csv") if p.is_file()),
        None,
    )
    if csv is not None:
        df = pd.read_csv(csv)
        source = str(csv)
    else:
        from netfleet.datasets import banknotes

        df = banknotes.load_frame()
        source = "netfleet.datasets.banknotes (bundled)"
    X = scale(df.drop("class", axis=1).values)
    y = df["class"].values
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42)
    import numpy as np

    np.savez(path, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
    return {"source": source, "n_train": len(X_train), "n_test": len(X_test)}


def _load_split(cfg: dict):
    import numpy as np

    with np.load(cfg["data_file"]) as d:
        return d["X_train"], d["y_train"]


# =========================================================================== children
def notebook_loops(K, Sequential, Dense, SGD, Adam, Adagrad, RMSprop, X_train, y_train, seed_fn):
    """The notebook's four loops as it writes them, with the classes passed in (Keras' or
    netfleet's). `seed_fn()` runs before each model is built (the notebook does not seed;
    seeding makes the runs comparable with the sweep).

    Returns {loop: {"wall_s", "final_loss", "final_accuracy", "runs"}}.
    """
    try:
        import pandas as pd
    except ImportError:  # a bare Keras venv: the histories are still read, not framed
        pd = None
    namespace = {"SGD": SGD, "Adam": Adam, "Adagrad": Adagrad, "RMSprop": RMSprop}
    out = {}

    def finish(name, t0, hs):
        if pd is not None:
            dflist = [pd.DataFrame(h.history, index=h.epoch) for h in hs]
            historydf = pd.concat(dflist, axis=1)  # noqa: F841 - the notebook's table
        out[name] = {
            "wall_s": time.perf_counter() - t0,
            "final_loss": [float(h.history["loss"][-1]) for h in hs],
            "final_accuracy": [float(h.history["accuracy"][-1]) for h in hs],
            "runs": len(hs),
        }

    # --- Learning rates
    t0, hs = time.perf_counter(), []
    for lr in LEARNING_RATES:
        seed_fn()
        K.clear_session()

        model = Sequential()
        model.add(Dense(1, input_shape=(4,), activation="sigmoid"))
        model.compile(
            loss="binary_crossentropy", optimizer=SGD(learning_rate=lr), metrics=["accuracy"]
        )
        h = model.fit(X_train, y_train, batch_size=16, epochs=10, verbose=0)
        hs.append(h)
    finish("learning_rate", t0, hs)

    # --- Batch sizes
    t0, hs = time.perf_counter(), []
    for batch_size in BATCH_SIZES:
        seed_fn()
        K.clear_session()

        model = Sequential()
        model.add(Dense(1, input_shape=(4,), activation="sigmoid"))
        model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
        h = model.fit(X_train, y_train, batch_size=batch_size, epochs=10, verbose=0)
        hs.append(h)
    finish("batch_size", t0, hs)

    # --- Optimizers
    t0, hs = time.perf_counter(), []
    for opt_name in OPTIMIZERS:
        seed_fn()
        K.clear_session()

        model = Sequential()
        model.add(Dense(1, input_shape=(4,), activation="sigmoid"))
        model.compile(
            loss="binary_crossentropy",
            optimizer=eval(opt_name, dict(namespace)),
            metrics=["accuracy"],
        )
        h = model.fit(X_train, y_train, batch_size=16, epochs=5, verbose=0)
        hs.append(h)
    finish("optimizer", t0, hs)

    # --- Initialization
    t0, hs = time.perf_counter(), []
    for init in INITIALIZERS:
        seed_fn()
        K.clear_session()

        model = Sequential()
        model.add(Dense(1, input_shape=(4,), kernel_initializer=init, activation="sigmoid"))
        model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
        h = model.fit(X_train, y_train, batch_size=16, epochs=5, verbose=0)
        hs.append(h)
    finish("initializer", t0, hs)
    return out


def _netfleet_import():
    t_imp = time.perf_counter()
    import netfleet
    import netfleet.backend as K
    from netfleet.layers import Dense
    from netfleet.models import Sequential
    from netfleet.optimizers import SGD, Adagrad, Adam, RMSprop
    from netfleet.utils import set_random_seed

    import_s = time.perf_counter() - t_imp
    return netfleet, (K, Sequential, Dense, SGD, Adam, Adagrad, RMSprop), set_random_seed, import_s


def child_single(cfg: dict) -> dict:
    import torch

    torch.set_num_threads(cfg["threads"])
    netfleet, classes, set_random_seed, import_s = _netfleet_import()
    X_train, y_train = _load_split(cfg)
    loops = notebook_loops(*classes, X_train, y_train, lambda: set_random_seed(cfg["seed"]))
    return {
        "loops": loops,
        "import_s": import_s,
        "versions": {"netfleet": getattr(netfleet, "__version__", "?"), "torch": torch.__version__},
    }


def child_sweep(cfg: dict) -> dict:
    import torch

    torch.set_num_threads(cfg["threads"])
    netfleet, (_, Sequential, Dense, *_), _, import_s = _netfleet_import()
    t_imp = time.perf_counter()
    from netfleet.fleet import sweep

    import_s += time.perf_counter() - t_imp
    X_train, y_train = _load_split(cfg)

    def build(init="glorot_uniform"):
        model = Sequential()
        model.add(Dense(1, input_shape=(4,), kernel_initializer=init, activation="sigmoid"))
        return model

    shared = {"loss": "binary_crossentropy", "metrics": ["accuracy"]}
    calls = {  # loop: (grid, compile, fit), as the notebook's loops set them
        "learning_rate": (
            {"learning_rate": LEARNING_RATES},
            {**shared, "optimizer": "sgd"},
            {"batch_size": 16, "epochs": 10},
        ),
        "batch_size": ({"batch_size": BATCH_SIZES}, {**shared, "optimizer": "sgd"}, {"epochs": 10}),
        "optimizer": ({"optimizer": OPTIMIZERS}, shared, {"batch_size": 16, "epochs": 5}),
        "initializer": (
            {"init": INITIALIZERS},
            {**shared, "optimizer": "rmsprop"},
            {"batch_size": 16, "epochs": 5},
        ),
    }
    loops = {}
    for name, _, _ in LOOPS:
        grid, compile_args, fit_args = calls[name]
        t0 = time.perf_counter()
        result = sweep(
            build, grid, X_train, y_train, compile=compile_args, fit=fit_args, seed=cfg["seed"]
        )
        historydf = result.frame  # noqa: F841 - the notebook's table, in the timed span
        loops[name] = {
            "wall_s": time.perf_counter() - t0,
            "final_loss": [h["loss"][-1] for h in result.histories],
            "final_accuracy": [h["accuracy"][-1] for h in result.histories],
            "runs": len(result.groups),
            "groups": result.groups,
        }
    return {
        "loops": loops,
        "import_s": import_s,
        "versions": {"netfleet": getattr(netfleet, "__version__", "?"), "torch": torch.__version__},
    }


def child_keras(cfg: dict) -> dict:
    tf, keras, import_s = C.tensorflow_keras(cfg["threads"])
    import tensorflow.keras.backend as K
    from tensorflow.keras.layers import Dense
    from tensorflow.keras.models import Sequential
    from tensorflow.keras.optimizers import SGD, Adagrad, Adam, RMSprop

    X_train, y_train = _load_split(cfg)
    loops = notebook_loops(
        K,
        Sequential,
        Dense,
        SGD,
        Adam,
        Adagrad,
        RMSprop,
        X_train,
        y_train,
        lambda: keras.utils.set_random_seed(cfg["seed"]),
    )
    return {
        "loops": loops,
        "import_s": import_s,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }


CHILDREN = {"sweep": child_sweep, "single": child_single, "keras": child_keras}


def run_child(system: str, cfg: dict) -> None:
    """Entry point of a child process: run one system, print one JSON result line."""

    def run():
        result = CHILDREN[system](cfg)
        result["total_s"] = sum(v["wall_s"] for v in result["loops"].values())
        return result

    C.run_child(system, run)


# =========================================================================== parent


def _best(runs: list[dict]) -> dict:
    """Of repeated runs of one system, the one with the lowest total; each loop's time is
    that run's (the loops of one run share its conditions)."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    best = dict(min(ok, key=lambda r: r["total_s"]))
    if len(ok) > 1:
        best["repeat_s"] = [r["total_s"] for r in ok]
    return best


def check_equal(sweep_r: dict, single_r: dict) -> dict:
    """Per loop, the largest |sweep final loss - one-at-a-time final loss|."""
    out = {}
    for name, _, values in LOOPS:
        a = sweep_r["loops"][name]["final_loss"]
        b = single_r["loops"][name]["final_loss"]
        if len(a) != len(b):
            out[name] = None
            continue
        out[name] = max(abs(x - y) for x, y in zip(a, b))
    return out


def report(results: dict, args, data_info: dict) -> dict:
    print()
    print(
        f"The notebook's four loops on banknotes ({data_info['n_train']} training rows), "
        f"Dense(1, sigmoid), binary cross-entropy, {args.threads} threads, each system in "
        f"a fresh process"
    )
    mi = C.machine_info()
    print(f"machine: {mi['cpu']} ({mi['cpu_count']} cpus), {mi['platform']}, python {mi['python']}")
    print()

    sw = results.get("sweep", {})
    base = sw.get("total_s") if "error" not in sw else None
    headers = (
        ["system"]
        + [f"{label} ({len(v)})" for _, label, v in LOOPS]
        + ["total s", "x sweep", "load", "notes"]
    )
    rows = []
    for s in [s for s in SYSTEMS if s in results]:
        r = results[s]
        if "error" in r:
            rows.append([LABELS[s]] + ["-"] * (len(LOOPS) + 3) + ["unavailable (see below)"])
            continue
        notes = []
        if s == "sweep":
            notes.append(
                "batched runs per loop: "
                + "/".join(str(r["loops"][n]["runs"]) for n, _, _ in LOOPS)
            )
        if r.get("repeat_s"):
            notes.append("best of " + ", ".join(f"{m:.3f}" for m in r["repeat_s"]))
        load = f"{C.fmt(r.get('load_start'), '.1f')}-{C.fmt(r.get('load_end'), '.1f')}"
        rows.append(
            [LABELS[s]]
            + [C.fmt(r["loops"][n]["wall_s"]) for n, _, _ in LOOPS]
            + [
                C.fmt(r["total_s"]),
                C.fmt(C.ratio(r["total_s"], base), ".1f"),
                load,
                "; ".join(notes),
            ]
        )
    C.print_table(headers, rows)

    # per-loop ratios against the sweep
    ratios: dict = {}
    print()
    print("ratios (wall time, this run):")
    specs = [
        ("keras / sweep", "keras", ">=", 50.0),
        ("one-at-a-time / sweep", "single", None, None),
    ]
    for name, system, op, target in specs:
        r = results.get(system, {})
        if "error" in r or not r or base is None:
            ratios[name] = None
            print(f"  {name:<22} -    (missing: a system did not run)")
            continue
        per = {n: C.ratio(r["loops"][n]["wall_s"], sw["loops"][n]["wall_s"]) for n, _, _ in LOOPS}
        total = C.ratio(r["total_s"], base)
        ratios[name] = {"total": total, **per}
        per_txt = ", ".join(f"{label} {per[n]:.1f}" for n, label, _ in LOOPS)
        verdict = ""
        if op is not None:
            verdict = f"   target {op} {target:g}: {'met' if total >= target else 'NOT met'}"
        print(f"  {name:<22} {total:7.1f}{verdict}   (per loop: {per_txt})")

    # the sweep must give the one-at-a-time results
    equal = None
    if base is not None and "single" in results and "error" not in results["single"]:
        diffs = check_equal(sw, results["single"])
        equal = {
            "max_abs_diff": diffs,
            "tolerance": EQUAL_TOL,
            "equal": all(d is not None and d <= EQUAL_TOL for d in diffs.values()),
        }
        print()
        print(
            f"sweep final losses == one-at-a-time final losses (seed {args.seed}, "
            f"tolerance {EQUAL_TOL:g}): {'yes' if equal['equal'] else 'NO'}"
        )
        for n, label, values in LOOPS:
            d = diffs[n]
            lo = sw["loops"][n]["final_loss"]
            print(
                f"  {label:<14} max |diff| {C.fmt(d, '.2e'):>9}   "
                f"final losses {', '.join(f'{v:.4f}' for v in lo)}"
            )
    ks = results.get("keras", {})
    if ks and "error" not in ks:
        print()
        print(f"keras final losses (seed {args.seed}; other random streams, for orientation):")
        for n, label, _ in LOOPS:
            print(f"  {label:<14} " + ", ".join(f"{v:.4f}" for v in ks["loops"][n]["final_loss"]))

    C.report_conditions(results, SYSTEMS, args.verbose)
    return {"ratios": ratios, "equal": equal}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data",
        default=None,
        help="data root holding banknotes.csv (default: $NETFLEET_DATA or "
        "../shared/data relative to the repository root; netfleet's bundled "
        "copy if absent)",
    )
    C.add_run_arguments(
        ap,
        SYSTEMS,
        timeout=1800,
        keras_help="interpreter for the keras child (e.g. a separate venv's python)",
    )
    ap.add_argument(
        "--seed", type=int, default=0, help="set_random_seed before every model (and sweep's seed)"
    )
    args = ap.parse_args(argv)

    if args.child:
        run_child(args.child, json.loads(args.child_config))
        return 0

    only = C.selected_systems(ap, args.only, SYSTEMS, ALIASES)

    with tempfile.TemporaryDirectory(prefix="netfleet-bench-") as tmp:
        data_file = Path(tmp) / "banknotes_split.npz"
        try:
            data_info = prepare_banknotes(args.data, data_file)
        except (OSError, ImportError) as e:
            print(f"error: cannot prepare the banknotes data: {e}", file=sys.stderr)
            return 2
        cfg = {"data_file": str(data_file), "threads": args.threads, "seed": args.seed}

        runs: dict[str, list[dict]] = {s: [] for s in only}
        for rep in range(args.repeat):
            order = only if rep % 2 == 0 else only[::-1]
            for s in order:
                python = (
                    args.keras_python if (s == "keras" and args.keras_python) else sys.executable
                )
                tag = f" (round {rep + 1}/{args.repeat})" if args.repeat > 1 else ""
                print(f"running {s}{tag} ...", file=sys.stderr, flush=True)
                r = C.spawn(__file__, s, cfg, python, args.timeout)
                runs[s].append(r)
                if "error" in r:
                    print(f"  {s} unavailable: {r['error']}", file=sys.stderr, flush=True)
                else:
                    per = ", ".join(f"{n} {r['loops'][n]['wall_s']:.3f}" for n, _, _ in LOOPS)
                    print(
                        f"  {s}: {r['total_s']:.3f} s ({per}), load "
                        f"{C.fmt(r.get('load_start'), '.1f')}, process "
                        f"{r['process_wall_s']:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )

    results = {s: _best(rs) for s, rs in runs.items()}
    summary = report(results, args, data_info)

    if args.json:
        config = {
            "threads": args.threads,
            "seed": args.seed,
            "repeat": args.repeat,
            "data": data_info,
            "loops": {n: v for n, _, v in LOOPS},
        }
        C.write_results(
            args.json,
            "notebook_sweeps",
            config,
            results,
            runs=runs if args.repeat > 1 else None,
            **summary,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
