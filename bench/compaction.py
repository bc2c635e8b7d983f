#!/usr/bin/env python
"""What a fleet costs once most of its members stopped: the lecture's MNIST network as a
fleet of --members (16) members, --live (4) of which train on after the first epoch.

Model: 784 -> Dense(32) relu -> Dense(10) softmax, Adam with one learning rate per member
(np.geomspace(3e-4, 3e-3, members)), categorical cross-entropy on one-hot labels, batch 128,
pixels / 255, validation_split 0.1 (as bench/mnist_network.py).

Systems (each in a fresh subprocess, capped at --threads threads):
  full       the fleet, every member training every epoch
  compacted  the fleet, a callback calling `model.stop_members` at the end of the first
             epoch on all but the --live members best on val_accuracy: they leave the
             batched computation (netfleet.engine.compaction)
  masked     the same stop with compaction switched off (`compaction.ENABLED = False`):
             the stopped members stay in the computation, masked (netfleet before it)

    python bench/compaction.py [--epochs 6] [--members 16] [--live 4] [--rows 0]
                               [--data ../shared/data] [--only full,compacted,masked]
                               [--json out.json]

Seconds per epoch are the median of the epochs after the first (the stop comes at the end
of the first). The ratio compacted / full is what a later epoch costs once --live of
--members members train on; target <= 0.4 for 4 of 16. Compare ratios taken in one run,
never absolute seconds across runs: the host is noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

SYSTEMS = ("full", "compacted", "masked")
BATCH = 128
VALIDATION_SPLIT = 0.1
TARGET = 0.4  # compacted / full for 4 live members of 16


# =========================================================================== children
def child(system: str, cfg: dict) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(cfg["threads"])
    import netfleet
    from netfleet.callbacks import Callback
    from netfleet.datasets import mnist
    from netfleet.engine import compaction
    from netfleet.layers import Activation, Dense
    from netfleet.models import Sequential
    from netfleet.optimizers import Adam
    from netfleet.utils import set_random_seed, to_categorical

    class Stop(Callback):
        """Stops all but the `live` members best on val_accuracy at the end of epoch 0,
        and times every epoch."""

        def __init__(self, live):
            super().__init__()
            self.live, self.times, self.computed = live, [], None

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.started)
            if epoch == 0 and self.live is not None:
                ranked = np.argsort(-np.asarray(logs["val_accuracy"]), kind="stable")
                live = sorted(ranked[: self.live].tolist())
                self.model.stop_members(sorted(ranked[self.live :].tolist()))
                self.computed = compaction.places(live, self.model.num_members)

    set_random_seed(cfg["seed"])
    compaction.ENABLED = system != "masked"
    (x, y), _ = mnist.load_data(path=str(C.mnist_dir(cfg["data"])))
    if cfg["rows"]:
        x, y = x[: cfg["rows"]], y[: cfg["rows"]]
    x = x.reshape(len(x), 784).astype("float32") / 255
    rates = [float(v) for v in np.geomspace(3e-4, 3e-3, cfg["members"])]
    model = Sequential(
        [Dense(32, input_shape=(784,)), Activation("relu"), Dense(10), Activation("softmax")]
    )
    model.compile(Adam(learning_rate=rates), "categorical_crossentropy", metrics=["accuracy"])
    stop = Stop(None if system == "full" else cfg["live"])
    model.fit(
        x,
        to_categorical(y, 10),
        batch_size=BATCH,
        epochs=cfg["epochs"],
        verbose=0,
        validation_split=VALIDATION_SPLIT,
        callbacks=[stop],
    )
    return {
        **C.epoch_stats(stop.times),
        "members": cfg["members"],
        "live": None if system == "full" else cfg["live"],
        "computed": stop.computed if system == "compacted" else None,
        "versions": {"netfleet": netfleet.__version__, "torch": torch.__version__},
    }


def run_child(system: str, cfg: dict) -> None:
    """Entry point of a child process: run one system, print one JSON result line."""
    C.run_child(system, lambda: child(system, cfg))


# =========================================================================== parent
def report(results: dict, args) -> dict:
    print()
    print(
        f"MNIST 784-32-10 fleet of {args.members}, Adam, batch {BATCH}, validation_split "
        f"{VALIDATION_SPLIT}, {args.epochs} epochs, {args.live} members training after the "
        f"first, {args.threads} threads, each system in a fresh process"
    )
    machine = C.machine_info()
    print(f"machine: {machine['cpu']} ({machine['cpu_count']} cpus), {machine['platform']}")
    print()
    rows = []
    for system in (s for s in SYSTEMS if s in results):
        r = results[system]
        if "error" in r:
            rows.append([system, "-", "-", "-", "unavailable (see below)"])
            continue
        computed = r.get("computed")
        notes = f"later epochs compute members {computed}" if computed else ""
        rows.append(
            [system, C.fmt(r["first_epoch_s"]), C.fmt(r["median_s"]), C.fmt(r["min_s"]), notes]
        )
    C.print_table(["system", "1st epoch s", "later s/epoch median", "min", "notes"], rows)

    def median(system):
        r = results.get(system)
        return r.get("median_s") if r and "error" not in r else None

    ratios = {
        "compacted / full": C.ratio(median("compacted"), median("full")),
        "masked / full": C.ratio(median("masked"), median("full")),
    }
    print()
    print("ratios (median s/epoch of the later epochs, this run):")
    for name, value in ratios.items():
        if value is None:
            print(f"  {name:<18} -    (missing: a system did not run)")
        elif name == "compacted / full":
            met = "met" if value <= TARGET else "NOT met"
            print(f"  {name:<18} {value:6.2f}   target <= {TARGET} (4 live of 16): {met}")
        else:
            print(f"  {name:<18} {value:6.2f}")
    for system, r in results.items():
        if "error" in r:
            print(f"\n{system} unavailable: {r['error']}")
            if args.verbose and r.get("stderr_tail"):
                print(r["stderr_tail"])
    return ratios


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--live", type=int, default=4, help="members training after the first epoch")
    ap.add_argument("--rows", type=int, default=0, help="first rows of MNIST only (0: all)")
    ap.add_argument(
        "--data",
        default=None,
        help="data root holding mnist/ (default: $NETFLEET_DATA or ../shared/data "
        "relative to the repository root)",
    )
    ap.add_argument("--seed", type=int, default=0)
    C.add_run_arguments(ap, SYSTEMS, timeout=1800, keras_help="unused: no Keras system here")
    args = ap.parse_args(argv)

    if args.child:
        run_child(args.child, json.loads(args.child_config))
        return 0
    if not 0 < args.live < args.members or args.epochs < 3:
        ap.error("needs 0 < --live < --members and --epochs >= 3 (two later epochs at least)")
    only = C.selected_systems(ap, args.only, SYSTEMS)
    try:
        data = str(C.mnist_dir(args.data))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = {
        "epochs": args.epochs,
        "members": args.members,
        "live": args.live,
        "rows": args.rows,
        "data": data,
        "threads": args.threads,
        "seed": args.seed,
    }
    runs: dict[str, list[dict]] = {s: [] for s in only}
    for rep in range(args.repeat):
        for system in only if rep % 2 == 0 else only[::-1]:
            print(f"running {system} ...", file=sys.stderr, flush=True)
            runs[system].append(C.spawn(__file__, system, cfg, sys.executable, args.timeout))
    results = {
        system: min(
            (r for r in rs if "error" not in r), key=lambda r: r["median_s"], default=rs[-1]
        )
        for system, rs in runs.items()
    }
    ratios = report(results, args)
    if args.json:
        config = {**cfg, "batch_size": BATCH, "validation_split": VALIDATION_SPLIT}
        C.write_results(args.json, "compaction", config, results, ratios=ratios)
    return 0


if __name__ == "__main__":
    sys.exit(main())
