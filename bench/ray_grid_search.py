#!/usr/bin/env python
"""The lecture's grid search (see grid_search.py) as a FleetSearchCV in this process and on a
local Ray cluster of --workers workers, and Ray's overhead per group.

Systems (each in a fresh subprocess):
  local  FleetSearchCV(NetClassifier(build_fn=make_model, seed=...), param_grid,
         executor="local"), torch capped at --threads threads
  ray    the same search with executor=RayExecutor(num_cpus=1, max_members=...), on a
         local Ray cluster of --workers CPUs (one worker per CPU, one torch thread each),
         started on 127.0.0.1 in the child; the cluster's start and its workers' first
         import of netfleet are timed apart from the search

Ray's overhead per group: each child also times a sweep of --overhead-groups tiny groups
(784 -> k -> 10 for k = 1, 2, ...: shapes differ, so each configuration is its own group;
64 rows, one epoch). (ray - local) / groups is what a group costs on Ray beyond its
training, with the workers warm.

    python bench/ray_grid_search.py [--n 12000] [--folds 3] [--workers 2]
                                    [--max-members N] [--overhead-groups 40]
                                    [--only local,ray] [--json out.json]

Extra dependency: `pip install "netfleet[ray]"`. Compare ratios taken in one run, never
absolute seconds across runs: the host is noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C
from grid_search import PARAM_GRID, _best, _data, _summary, lecture_make_model

SYSTEMS = ("local", "ray")
LABELS = {"local": "FleetSearchCV, in-process", "ray": "FleetSearchCV, Ray executor"}


# =========================================================================== children
def _search(executor, cfg: dict):
    """The lecture's search, on `executor`: (the fitted search, its wall seconds)."""
    from sklearn.model_selection import KFold

    from netfleet.layers import Activation, Dense
    from netfleet.models import Sequential
    from netfleet.sklearn import FleetSearchCV, NetClassifier

    X, Y = _data(cfg)
    estimator = NetClassifier(
        build_fn=lecture_make_model(Sequential, Dense, Activation), seed=cfg["seed"]
    )
    search = FleetSearchCV(
        estimator,
        param_grid=PARAM_GRID,
        cv=KFold(cfg["folds"]),
        return_train_score=True,
        executor=executor,
    )
    began = time.perf_counter()
    search.fit(X, Y)
    return search, time.perf_counter() - began


def _tiny_sweep_s(executor, cfg: dict) -> float:
    """Seconds of a sweep of `overhead_groups` one-member groups of 64 rows, one epoch."""
    from netfleet.fleet import sweep
    from netfleet.layers import Dense
    from netfleet.models import Sequential

    X, Y = _data({**cfg, "n": 64})

    def build(hidden_size):
        return Sequential([Dense(hidden_size, input_shape=(784,)), Dense(10)])

    grid = {"hidden_size": list(range(1, cfg["overhead_groups"] + 1))}
    compile = {"optimizer": "adam", "loss": "categorical_crossentropy"}
    began = time.perf_counter()
    result = sweep(build, grid, X, Y, compile=compile, executor=executor, seed=0)
    seconds = time.perf_counter() - began
    assert len(result.groups) == cfg["overhead_groups"]
    return seconds


def child_local(cfg: dict) -> dict:
    import torch

    torch.set_num_threads(cfg["threads"])
    search, fit_s = _search("local", cfg)
    return {**_summary(search, fit_s), "tiny_sweep_s": _tiny_sweep_s("local", cfg)}


def child_ray(cfg: dict) -> dict:
    import ray
    import torch

    from netfleet.fleet.executors import RayExecutor

    torch.set_num_threads(1)  # the driver only scores; the workers train
    began = time.perf_counter()
    ray.init(
        address="local",
        num_cpus=cfg["workers"],
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
    )
    startup_s = time.perf_counter() - began

    @ray.remote(num_cpus=1)
    def warm_up():
        import netfleet.sklearn  # noqa: F401 - a worker's first task pays these imports

        return time.perf_counter()

    began = time.perf_counter()
    ray.get([warm_up.remote() for _ in range(cfg["workers"])])
    warm_up_s = time.perf_counter() - began
    executor = RayExecutor(num_cpus=1, max_members=cfg["max_members"])
    search, fit_s = _search(executor, cfg)
    tiny_s = _tiny_sweep_s(executor, cfg)
    ray.shutdown()
    return {
        **_summary(search, fit_s),
        "tiny_sweep_s": tiny_s,
        "startup_s": startup_s,
        "warm_up_s": warm_up_s,
        "versions": {"ray": ray.__version__},
    }


CHILDREN = {"local": child_local, "ray": child_ray}


# =========================================================================== parent
def report(results: dict, args) -> dict:
    groups = args.overhead_groups
    print()
    print(
        f"The lecture's grid search: epochs {PARAM_GRID['epochs']} x hidden_size "
        f"{PARAM_GRID['hidden_size']} x KFold({args.folds}), first {args.n} MNIST training "
        f"images; in-process with {args.threads} threads, or on a local Ray cluster of "
        f"{args.workers} workers (1 thread each), max_members {args.max_members}"
    )
    mi = C.machine_info()
    print(f"machine: {mi['cpu']} ({mi['cpu_count']} cpus), {mi['platform']}, python {mi['python']}")
    print()
    local = results.get("local", {})
    base = local.get("fit_s") if "error" not in local else None
    headers = ["system", "search.fit s", "of which refit s", "x in-process", "tiny sweep s"]
    headers += ["Ray start s", "workers' first import s", "best params", "best score", "load"]
    rows = []
    for system in [s for s in SYSTEMS if s in results]:
        r = results[system]
        if "error" in r:
            rows.append([LABELS[system]] + ["-"] * 8 + [f"unavailable: {r['error']}"])
            continue
        rows.append(
            [
                LABELS[system],
                C.fmt(r["fit_s"], ".1f"),
                C.fmt(r.get("refit_s"), ".1f"),
                C.fmt(C.ratio(r["fit_s"], base), ".2f"),
                C.fmt(r["tiny_sweep_s"], ".2f"),
                C.fmt(r.get("startup_s"), ".1f"),
                C.fmt(r.get("warm_up_s"), ".1f"),
                ", ".join(f"{k} {v}" for k, v in sorted(r["best_params"].items())),
                C.fmt(r["best_score"], ".4f"),
                f"{C.fmt(r.get('load_start'), '.1f')}-{C.fmt(r.get('load_end'), '.1f')}",
            ]
        )
    C.print_table(headers, rows)
    summary = {}
    ray_run = results.get("ray", {})
    if base is not None and ray_run and "error" not in ray_run:
        overhead = (ray_run["tiny_sweep_s"] - local["tiny_sweep_s"]) / groups
        a = local["cv_results"]["mean_test_score"]
        b = ray_run["cv_results"]["mean_test_score"]
        diff = max(abs(x - y) for x, y in zip(a, b))
        summary = {
            "ray_over_local": C.ratio(ray_run["fit_s"], base),
            "overhead_per_group_s": overhead,
            "max_abs_diff_mean_test_score": diff,
        }
        print()
        print(f"Ray / in-process, search.fit wall time: {C.fmt(summary['ray_over_local'])}")
        print(
            f"Ray's overhead per group ({groups} one-member groups, warm workers): "
            f"{overhead * 1e3:.0f} ms"
        )
        print(f"largest |mean_test_score difference| Ray vs in-process: {diff:.2e}")
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=None, help="data root holding mnist/")
    ap.add_argument("--n", type=int, default=12000, help="first N MNIST training images")
    ap.add_argument("--folds", type=int, default=3, help="KFold splits (default 3)")
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster")
    ap.add_argument(
        "--max-members", type=int, default=None, help="the most members one Ray task trains"
    )
    ap.add_argument("--overhead-groups", type=int, default=40, help="groups of the tiny sweep")
    ap.add_argument("--seed", type=int, default=0, help="NetClassifier seed")
    C.add_run_arguments(ap, SYSTEMS, timeout=3600, keras_help="not used by this benchmark")
    args = ap.parse_args(argv)

    if args.child:
        C.run_child(args.child, lambda: CHILDREN[args.child](json.loads(args.child_config)))
        return 0

    only = C.selected_systems(ap, args.only, SYSTEMS)
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
        "workers": args.workers,
        "max_members": args.max_members,
        "overhead_groups": args.overhead_groups,
        "seed": args.seed,
    }
    runs = {system: [] for system in only}
    for rep in range(args.repeat):
        for system in only if rep % 2 == 0 else only[::-1]:
            print(f"running {system} (round {rep + 1}) ...", file=sys.stderr, flush=True)
            r = C.spawn(__file__, system, cfg, sys.executable, args.timeout)
            runs[system].append(r)
            if "error" in r:
                print(f"  {system} unavailable: {r['error']}", file=sys.stderr)
                if args.verbose:
                    print(r.get("stderr_tail", ""), file=sys.stderr)
    results = {system: _best(rs) for system, rs in runs.items()}
    summary = report(results, args)
    if args.json:
        config = {**cfg, "param_grid": PARAM_GRID}
        runs_kept = runs if args.repeat > 1 else None
        C.write_results(args.json, "ray_grid_search", config, results, runs=runs_kept, **summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
