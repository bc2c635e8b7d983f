#!/usr/bin/env python
"""The lecture's grid search on MNIST, timed as a FleetSearchCV, as a GridSearchCV over
netfleet's NetClassifier, and as a GridSearchCV over scikeras' KerasClassifier.

The lecture (Keras wrappers for sklearn) writes:

    def make_model(optimizer="adam", hidden_size=32):
        model = Sequential([Dense(hidden_size, input_shape=(784,)), Activation('relu'),
                            Dense(10), Activation('softmax')])
        model.compile(optimizer=optimizer, loss="categorical_crossentropy",
                      metrics=['accuracy'])
        return model

    clf = KerasClassifier(make_model)
    param_grid = {'epochs': [1, 5, 10], 'hidden_size': [32, 64, 256]}
    grid = GridSearchCV(clf, param_grid=param_grid, return_train_score=True)
    grid.fit(X_train, y_train)

on pixels / 255 and one-hot labels, with the wrapper's default batch size (32: neither the
lecture nor its wrapper sets one). Here: the first --n (12,000) training images, and the
same `KFold(--folds)` (3) splitter for every system, which is what `cv=3` gives for one-hot
labels (scikit-learn does not stratify one-hot targets).

Systems (each in a fresh subprocess, capped at --threads threads):
  fleet     FleetSearchCV(NetClassifier(build_fn=make_model, seed=...), param_grid, ...)
  grid      GridSearchCV(NetClassifier(build_fn=make_model, seed=...), param_grid, ...)
  scikeras  GridSearchCV(scikeras.wrappers.KerasClassifier(model=make_model, ...), ...),
            Keras 3 / TensorFlow

    python bench/grid_search.py [--n 12000] [--folds 3] [--only fleet,grid,scikeras]
                                [--hidden-sizes 32,64,256] [--json out.json]

The time is the wall time of `search.fit(X, y)`, refit of the best candidate on all the
rows included (the lecture keeps GridSearchCV's default refit=True). Compare ratios taken
in one run, never absolute seconds across runs: the host is noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

SYSTEMS = ("fleet", "grid", "scikeras")
ALIASES = {
    "fleetsearchcv": "fleet",
    "gridsearchcv": "grid",
    "netfleet": "grid",
    "keras": "scikeras",
}
LABELS = {
    "fleet": "FleetSearchCV(NetClassifier)",
    "grid": "GridSearchCV(NetClassifier)",
    "scikeras": "GridSearchCV(scikeras KerasClassifier)",
}
PARAM_GRID = {"epochs": [1, 5, 10], "hidden_size": [32, 64, 256]}  # the lecture's


def param_grid(cfg: dict) -> dict:
    """The lecture's grid, with `--hidden-sizes` in place of its hidden sizes when given."""
    return {**PARAM_GRID, "hidden_size": cfg.get("hidden_sizes") or PARAM_GRID["hidden_size"]}


# =========================================================================== children
def lecture_make_model(Sequential, Dense, Activation):
    """The lecture's `make_model`, with the classes passed in (Keras' or netfleet's)."""

    def make_model(optimizer="adam", hidden_size=32):
        model = Sequential(
            [
                Dense(hidden_size, input_shape=(784,)),
                Activation("relu"),
                Dense(10),
                Activation("softmax"),
            ]
        )
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    return make_model


def _data(cfg: dict):
    """The first `n` training images, flattened, / 255, with one-hot labels."""
    import numpy as np

    (xtr, ytr), _ = C.load_mnist(cfg["data"])
    n = cfg["n"]
    X = xtr[:n].reshape(-1, 784).astype("float32") / 255
    Y = np.eye(10, dtype="float32")[ytr[:n]]  # = to_categorical(y_train[:n], 10)
    return X, Y


def _summary(search, fit_s: float) -> dict:
    """What the parent needs from a fitted search."""
    res = search.cv_results_
    keep = [
        "mean_test_score",
        "std_test_score",
        "mean_train_score",
        "mean_fit_time",
        "rank_test_score",
    ]
    return {
        "fit_s": fit_s,
        "refit_s": getattr(search, "refit_time_", None),
        "best_params": {
            k: (v.item() if hasattr(v, "item") else v) for k, v in search.best_params_.items()
        },
        "best_score": float(search.best_score_),
        "n_splits": search.n_splits_,
        "cv_results": {
            "params": [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in p.items()}
                for p in res["params"]
            ],
            **{k: [float(v) for v in res[k]] for k in keep if k in res},
        },
    }


def _search(kind: str, estimator, cfg: dict):
    from sklearn.model_selection import GridSearchCV, KFold

    cv = KFold(cfg["folds"])
    if kind == "fleet":
        from netfleet.sklearn import FleetSearchCV

        return FleetSearchCV(estimator, param_grid(cfg), cv=cv, return_train_score=True)
    return GridSearchCV(estimator, param_grid(cfg), cv=cv, return_train_score=True)


def _netfleet_child(kind: str, cfg: dict) -> dict:
    import torch

    torch.set_num_threads(cfg["threads"])
    t_imp = time.perf_counter()
    import sklearn

    import netfleet
    from netfleet.layers import Activation, Dense
    from netfleet.models import Sequential
    from netfleet.sklearn import NetClassifier

    import_s = time.perf_counter() - t_imp

    X, Y = _data(cfg)
    make_model = lecture_make_model(Sequential, Dense, Activation)
    search = _search(kind, NetClassifier(build_fn=make_model, seed=cfg["seed"]), cfg)
    t0 = time.perf_counter()
    search.fit(X, Y)
    fit_s = time.perf_counter() - t0
    return {
        **_summary(search, fit_s),
        "import_s": import_s,
        "versions": {
            "netfleet": getattr(netfleet, "__version__", "?"),
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
        },
    }


def child_fleet(cfg: dict) -> dict:
    return _netfleet_child("fleet", cfg)


def child_grid(cfg: dict) -> dict:
    return _netfleet_child("grid", cfg)


def child_scikeras(cfg: dict) -> dict:
    tf, keras, import_s = C.tensorflow_keras(cfg["threads"])
    import scikeras
    import sklearn
    from keras.layers import Activation, Dense
    from keras.models import Sequential
    from scikeras.wrappers import KerasClassifier

    X, Y = _data(cfg)
    make_model = lecture_make_model(Sequential, Dense, Activation)
    # scikeras only routes parameters declared on the wrapper: hidden_size must be one.
    clf = KerasClassifier(model=make_model, hidden_size=32, verbose=0, random_state=cfg["seed"])
    search = _search("scikeras", clf, cfg)
    t0 = time.perf_counter()
    search.fit(X, Y)
    fit_s = time.perf_counter() - t0
    return {
        **_summary(search, fit_s),
        "import_s": import_s,
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "scikeras": getattr(scikeras, "__version__", "?"),
            "sklearn": sklearn.__version__,
        },
    }


CHILDREN = {"fleet": child_fleet, "grid": child_grid, "scikeras": child_scikeras}


def run_child(system: str, cfg: dict) -> None:
    """Entry point of a child process: run one system, print one JSON result line."""
    import warnings

    warnings.filterwarnings("ignore")  # Keras' input_shape deprecation, per fit
    C.run_child(system, lambda: CHILDREN[system](cfg))


# =========================================================================== parent


def _best(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    best = dict(min(ok, key=lambda r: r["fit_s"]))
    if len(ok) > 1:
        best["repeat_s"] = [r["fit_s"] for r in ok]
    return best


def _search_s(r: dict):
    """Seconds of `search.fit` spent before the refit: the cross-validation itself."""
    if not r or "error" in r or r.get("refit_s") is None:
        return None
    return r["fit_s"] - r["refit_s"]


def arithmetic_bound(grid: dict | None) -> dict | None:
    """The most FleetSearchCV could gain on GridSearchCV's run `grid`: every fleet member
    trains its candidate's largest `epochs`, so the costliest candidate's fits on all folds
    (its model's arithmetic, which batching members does not reduce once the model is bound
    by it, as the 256-unit network is here) and the refit remain."""
    if not grid or "error" in grid or grid.get("refit_s") is None:
        return None
    res = grid["cv_results"]
    costliest = max(range(len(res["params"])), key=lambda i: res["mean_fit_time"][i])
    seconds = grid["n_splits"] * res["mean_fit_time"][costliest] + grid["refit_s"]
    what = f"{_params_text(res['params'][costliest])} on its {grid['n_splits']} folds"
    return {"seconds": seconds, "ratio": grid["fit_s"] / seconds, "what": what}


def _params_text(p: dict | None) -> str:
    if not p:
        return "-"
    return ", ".join(f"{k} {p[k]}" for k in sorted(p))


def pivot(cv_results: dict):
    """The lecture's table: mean test / train score by epochs and hidden size."""
    import pandas as pd

    res = pd.DataFrame(
        {
            "param_epochs": [p["epochs"] for p in cv_results["params"]],
            "param_hidden_size": [p["hidden_size"] for p in cv_results["params"]],
            "mean_test_score": cv_results["mean_test_score"],
            "mean_train_score": cv_results.get(
                "mean_train_score", [float("nan")] * len(cv_results["params"])
            ),
        }
    )
    return res.pivot_table(
        index=["param_epochs", "param_hidden_size"], values=["mean_train_score", "mean_test_score"]
    )


def report(results: dict, args) -> dict:
    print()
    grid = param_grid({"hidden_sizes": args.hidden_sizes})
    n_cand = len(grid["epochs"]) * len(grid["hidden_size"])
    print(
        f"The lecture's grid search: epochs {grid['epochs']} x hidden_size "
        f"{grid['hidden_size']} ({n_cand} candidates) x KFold({args.folds}), first "
        f"{args.n} MNIST training images, 784-hidden-10, adam, batch 32, refit on all rows; "
        f"{args.threads} threads, each system in a fresh process"
    )
    mi = C.machine_info()
    print(f"machine: {mi['cpu']} ({mi['cpu_count']} cpus), {mi['platform']}, python {mi['python']}")
    print()

    fl = results.get("fleet", {})
    base = fl.get("fit_s") if fl and "error" not in fl else None
    headers = [
        "system",
        "wall s",
        "of which refit s",
        "search s (no refit)",
        "x FleetSearchCV",
        "best params",
        "best mean test score",
        "load",
        "notes",
    ]
    rows = []
    for s in [s for s in SYSTEMS if s in results]:
        r = results[s]
        if "error" in r:
            rows.append([LABELS[s]] + ["-"] * 7 + ["unavailable (see below)"])
            continue
        notes = []
        if r.get("repeat_s"):
            notes.append("best of " + ", ".join(f"{m:.1f}" for m in r["repeat_s"]))
        load = f"{C.fmt(r.get('load_start'), '.1f')}-{C.fmt(r.get('load_end'), '.1f')}"
        rows.append(
            [
                LABELS[s],
                C.fmt(r["fit_s"], ".1f"),
                C.fmt(r.get("refit_s"), ".1f"),
                C.fmt(_search_s(r), ".1f"),
                C.fmt(C.ratio(r["fit_s"], base), ".1f"),
                _params_text(r["best_params"]),
                C.fmt(r["best_score"], ".4f"),
                load,
                "; ".join(notes),
            ]
        )
    C.print_table(headers, rows)

    ratios = {}
    print()
    print("ratios (wall time of search.fit, this run):")
    specs = [
        ("GridSearchCV(NetClassifier) / FleetSearchCV", "grid", 3.0),
        ("scikeras / FleetSearchCV", "scikeras", 10.0),
    ]
    for name, system, target in specs:
        r = results.get(system, {})
        v = C.ratio(r.get("fit_s"), base) if r and "error" not in r else None
        ratios[name] = v
        if v is None:
            print(f"  {name:<44} -    (missing: a system did not run)")
            continue
        w = C.ratio(_search_s(r), _search_s(fl))
        ratios[name + " (search only)"] = w
        print(
            f"  {name:<44} {v:6.1f}   target >= {target:g}: "
            f"{'met' if v >= target else 'NOT met'}   (without the refit: {C.fmt(w, '.1f')})"
        )

    bound = arithmetic_bound(results.get("grid"))
    if bound is not None:
        ratios["GridSearchCV / the least FleetSearchCV can take"] = bound["ratio"]
        print(
            f"  at most {bound['ratio']:.1f} x on this machine: GridSearchCV spent "
            f"{bound['seconds']:.1f} s on {bound['what']} and the refit, work a fleet cannot "
            "share (the members of a model bound by its arithmetic cost one run each)"
        )

    ok = {s: r for s, r in results.items() if "error" not in r}
    same = None
    if len(ok) > 1:
        chosen = {s: json.dumps(r["best_params"], sort_keys=True) for s, r in ok.items()}
        same = len(set(chosen.values())) == 1
        print()
        print(
            f"same best params in all systems: {'yes' if same else 'NO'} ("
            + "; ".join(f"{s}: {_params_text(ok[s]['best_params'])}" for s in ok)
            + ")"
        )

    # every candidate's mean test score, side by side
    if ok:
        first = next(iter(ok.values()))
        print()
        print("mean_test_score per candidate:")
        headers = ["epochs", "hidden_size"] + [s for s in ok]
        rows = []
        for i, p in enumerate(first["cv_results"]["params"]):
            row = [str(p["epochs"]), str(p["hidden_size"])]
            for s, r in ok.items():
                j = r["cv_results"]["params"].index(p) if p in r["cv_results"]["params"] else None
                row.append(
                    C.fmt(r["cv_results"]["mean_test_score"][j], ".4f") if j is not None else "-"
                )
            rows.append(row)
        C.print_table(headers, rows)

    scores_equal = None
    if "fleet" in ok and "grid" in ok:
        a, b = ok["fleet"]["cv_results"], ok["grid"]["cv_results"]
        diff = max(abs(x - y) for x, y in zip(a["mean_test_score"], b["mean_test_score"]))
        scores_equal = {"max_abs_diff_mean_test_score": diff}
        print(
            f"\nFleetSearchCV vs GridSearchCV(NetClassifier), same seed {args.seed}: largest "
            f"|mean_test_score difference| {diff:.2e}"
        )

    if "fleet" in ok:
        print()
        print("FleetSearchCV cv_results_, as the lecture tabulates them:")
        print(
            "res.pivot_table(index=['param_epochs', 'param_hidden_size'], "
            "values=['mean_train_score', 'mean_test_score'])"
        )
        print(pivot(ok["fleet"]["cv_results"]).to_string())

    C.report_conditions(results, SYSTEMS, args.verbose)
    return {"ratios": ratios, "same_best_params": same, "fleet_vs_grid": scores_equal}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data",
        default=None,
        help="data root holding mnist/ (default: $NETFLEET_DATA or ../shared/data "
        "relative to the repository root)",
    )
    ap.add_argument("--n", type=int, default=12000, help="first N MNIST training images")
    ap.add_argument("--folds", type=int, default=3, help="KFold splits (default 3)")
    ap.add_argument(
        "--hidden-sizes",
        type=lambda text: [int(v) for v in text.split(",")],
        default=None,
        help="hidden sizes to search instead of the lecture's 32,64,256 (e.g. 8,16,32)",
    )
    C.add_run_arguments(
        ap,
        SYSTEMS,
        timeout=3600,
        keras_help="interpreter for the scikeras child (a venv with keras + scikeras)",
    )
    ap.add_argument(
        "--seed", type=int, default=0, help="NetClassifier seed / scikeras random_state"
    )
    args = ap.parse_args(argv)

    if args.child:
        run_child(args.child, json.loads(args.child_config))
        return 0

    only = C.selected_systems(ap, args.only, SYSTEMS, ALIASES)
    if not 2 <= args.folds:
        ap.error("--folds must be at least 2")

    try:
        data = str(C.mnist_dir(args.data))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = {
        "data": data,
        "n": args.n,
        "folds": args.folds,
        "threads": args.threads,
        "seed": args.seed,
        "hidden_sizes": args.hidden_sizes,
    }

    runs: dict[str, list[dict]] = {s: [] for s in only}
    for rep in range(args.repeat):
        order = only if rep % 2 == 0 else only[::-1]
        for s in order:
            python = (
                args.keras_python if (s == "scikeras" and args.keras_python) else sys.executable
            )
            tag = f" (round {rep + 1}/{args.repeat})" if args.repeat > 1 else ""
            print(f"running {s}{tag} ...", file=sys.stderr, flush=True)
            r = C.spawn(__file__, s, cfg, python, args.timeout)
            runs[s].append(r)
            if "error" in r:
                print(f"  {s} unavailable: {r['error']}", file=sys.stderr, flush=True)
            else:
                print(
                    f"  {s}: {r['fit_s']:.1f} s (refit {C.fmt(r.get('refit_s'), '.1f')}), best "
                    f"{_params_text(r['best_params'])} ({r['best_score']:.4f}), load "
                    f"{C.fmt(r.get('load_start'), '.1f')}, process {r['process_wall_s']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    results = {s: _best(rs) for s, rs in runs.items()}
    summary = report(results, args)

    if args.json:
        config = {
            **cfg,
            "param_grid": param_grid(cfg),
            "batch_size": 32,
            "cv": f"KFold({args.folds})",
            "repeat": args.repeat,
        }
        C.write_results(
            args.json,
            "grid_search",
            config,
            results,
            runs=runs if args.repeat > 1 else None,
            **summary,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
