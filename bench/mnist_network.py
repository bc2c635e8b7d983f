#!/usr/bin/env python
"""The lecture's MNIST network, timed in netfleet, a lean hand-written PyTorch loop and Keras.

Model: 784 -> Dense(32) relu -> Dense(10) softmax, Adam (learning rate 1e-3, Keras defaults),
categorical cross-entropy on one-hot labels, batch 128, pixels / 255, validation_split 0.1
(the last 10 % of the training arrays is held out and evaluated after every epoch).

Systems (each in a fresh subprocess, capped at --threads threads):
  torch     minimal hand-written PyTorch loop: tensors in memory, torch.randperm per epoch,
            fused Adam, no host sync inside an epoch, validation on the held-out last 10 %
  keras     Keras 3, TensorFlow backend, the lecture's code exactly
  netfleet  the same Keras code with only the imports changed to netfleet
  fleet     the same model as one netfleet fleet of --members members (a list learning rate)

    python bench/mnist_network.py [--epochs 10] [--data ../shared/data] [--members 16]
                                  [--only netfleet,torch,keras,fleet] [--json out.json]

Seconds per epoch are the median (and mean) of the epochs after the first; the first epoch
pays warm-up (tracing, allocator, thread pools) and is reported separately. Compare ratios
taken in one run, never absolute seconds across runs: the host is noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

SYSTEMS = ("torch", "netfleet", "fleet", "keras")
ALIASES = {"fleet16": "fleet", "netfleet-fleet": "fleet", "tf": "keras", "pytorch": "torch"}
LABELS = {
    "torch": "torch (lean hand-written loop)",
    "keras": "keras 3 / tensorflow",
    "netfleet": "netfleet",
    "fleet": "netfleet fleet",
}
BATCH = 128
VALIDATION_SPLIT = 0.1


# =========================================================================== children
def _preprocess(x_train, y_train, x_test, y_test):
    """The lecture's preprocessing: flatten, float32, / 255 (labels stay integer here)."""
    x_train = x_train.reshape(x_train.shape[0], 784).astype("float32") / 255
    x_test = x_test.reshape(x_test.shape[0], 784).astype("float32") / 255
    return x_train, y_train, x_test, y_test


def lecture_fit(
    Sequential, Dense, Activation, to_categorical, Callback, data, epochs, optimizer="adam"
):
    """The lecture's Keras code, with the classes passed in (Keras' or netfleet's).

    Returns (epoch times, fit seconds, model, history, test score).
    """
    import time as _time

    class EpochTimer(Callback):
        def __init__(self):
            super().__init__()
            self.times = []
            self._t0 = None

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = _time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(_time.perf_counter() - self._t0)

    X_train, y_train, X_test, y_test = data
    Y_train = to_categorical(y_train, 10)
    Y_test = to_categorical(y_test, 10)

    model = Sequential(
        [
            Dense(32, input_shape=(784,)),
            Activation("relu"),
            Dense(10),
            Activation("softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])

    timer = EpochTimer()
    t0 = _time.perf_counter()
    history = model.fit(
        X_train,
        Y_train,
        batch_size=128,
        epochs=epochs,
        verbose=0,
        validation_split=0.1,
        callbacks=[timer],
    )
    fit_s = _time.perf_counter() - t0
    score = model.evaluate(X_test, Y_test, verbose=0)
    return timer.times, fit_s, model, history, score


def _history_last(history) -> dict:
    out = {}
    h = getattr(history, "history", None) or {}
    for k, v in h.items():
        try:
            out[k] = v[-1]
        except (TypeError, IndexError, KeyError):
            pass
    return out


def child_torch(cfg: dict) -> dict:
    t_imp = time.perf_counter()
    import torch
    import torch.nn.functional as F
    from torch import nn

    import_s = time.perf_counter() - t_imp

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    (xtr, ytr), (xte, yte) = C.load_mnist(cfg["data"])
    xtr, ytr, xte, yte = _preprocess(xtr, ytr, xte, yte)

    # Keras' validation_split: the last fraction of the arrays, before any shuffling.
    split_at = int(-(-len(xtr) * (1.0 - VALIDATION_SPLIT) // 1))
    X = torch.from_numpy(xtr)
    Y = torch.from_numpy(ytr.astype("int64"))
    Xtr, Ytr, Xval, Yval = X[:split_at], Y[:split_at], X[split_at:], Y[split_at:]
    Xte, Yte = torch.from_numpy(xte), torch.from_numpy(yte.astype("int64"))
    n = Xtr.shape[0]

    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    for m in model:  # Keras' initialisation: glorot_uniform kernels, zero biases
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    adam_kw = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}  # Keras' Adam defaults
    try:
        opt = torch.optim.Adam(model.parameters(), fused=True, **adam_kw)
        opt_impl = "fused"
    except (RuntimeError, TypeError, ValueError):
        opt = torch.optim.Adam(model.parameters(), foreach=True, **adam_kw)
        opt_impl = "foreach"

    metrics = not cfg.get("torch_bare", False)
    times, hist = [], {}
    t_fit = time.perf_counter()
    for _ in range(cfg["epochs"]):
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros(())
        correct = torch.zeros((), dtype=torch.int64)
        for idx in torch.randperm(n).split(BATCH):  # the epoch's batches, drawn up front
            xb, yb = Xtr[idx], Ytr[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)  # = categorical CE on one-hot labels
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if metrics:  # like Keras: train loss / accuracy, kept on the device
                with torch.no_grad():
                    loss_sum += loss.detach() * idx.shape[0]
                    correct += (logits.argmax(1) == yb).sum()
        model.eval()
        with torch.no_grad():
            vlogits = model(Xval)
            val_loss = F.cross_entropy(vlogits, Yval)
            val_acc = (vlogits.argmax(1) == Yval).float().mean()
        hist = {  # the one host sync of the epoch
            "loss": loss_sum.item() / n if metrics else None,
            "accuracy": correct.item() / n if metrics else None,
            "val_loss": val_loss.item(),
            "val_accuracy": val_acc.item(),
        }
        times.append(time.perf_counter() - t0)
    fit_s = time.perf_counter() - t_fit

    with torch.no_grad():
        tlogits = model(Xte)
        test_loss = F.cross_entropy(tlogits, Yte).item()
        test_acc = (tlogits.argmax(1) == Yte).float().mean().item()
    return {
        **C.epoch_stats(times),
        "fit_s": fit_s,
        "import_s": import_s,
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "history_last": hist,
        "versions": {"torch": torch.__version__},
        "notes": f"Adam {opt_impl}" + ("" if metrics else ", no train metrics"),
    }


def child_keras(cfg: dict) -> dict:
    tf, keras, import_s = C.tensorflow_keras(cfg["threads"])
    from keras.callbacks import Callback
    from keras.layers import Activation, Dense
    from keras.models import Sequential
    from keras.utils import to_categorical

    keras.utils.set_random_seed(cfg["seed"])
    (xtr, ytr), (xte, yte) = C.load_mnist(cfg["data"])
    data = _preprocess(xtr, ytr, xte, yte)

    times, fit_s, _, history, score = lecture_fit(
        Sequential, Dense, Activation, to_categorical, Callback, data, cfg["epochs"]
    )
    return {
        **C.epoch_stats(times),
        "fit_s": fit_s,
        "import_s": import_s,
        "test_loss": float(score[0]),
        "test_accuracy": float(score[1]),
        "history_last": _history_last(history),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }


def _netfleet_data(cfg: dict):
    """netfleet's own MNIST loader, pointed at the local IDX folder."""
    from netfleet.datasets import mnist

    (xtr, ytr), (xte, yte) = mnist.load_data(path=str(C.mnist_dir(cfg["data"])))
    return _preprocess(xtr, ytr, xte, yte)


def _netfleet_import():
    t_imp = time.perf_counter()
    import netfleet
    from netfleet.callbacks import Callback
    from netfleet.layers import Activation, Dense
    from netfleet.models import Sequential
    from netfleet.utils import to_categorical

    import_s = time.perf_counter() - t_imp
    seed_fn = getattr(netfleet.utils, "set_random_seed", None)
    return netfleet, (Sequential, Dense, Activation, to_categorical, Callback), import_s, seed_fn


def child_netfleet(cfg: dict) -> dict:
    import torch

    torch.set_num_threads(cfg["threads"])
    netfleet, classes, import_s, seed_fn = _netfleet_import()
    if seed_fn is not None:
        seed_fn(cfg["seed"])
    data = _netfleet_data(cfg)
    times, fit_s, _, history, score = lecture_fit(*classes, data, cfg["epochs"])
    return {
        **C.epoch_stats(times),
        "fit_s": fit_s,
        "import_s": import_s,
        "test_loss": float(score[0]),
        "test_accuracy": float(score[1]),
        "history_last": _history_last(history),
        "versions": {"netfleet": getattr(netfleet, "__version__", "?"), "torch": torch.__version__},
    }


def fleet_learning_rates(members: int, mode: str) -> list[float]:
    if mode == "same":
        return [1e-3] * members
    import numpy as np

    return [float(v) for v in np.geomspace(3e-4, 3e-3, members)]


def matrix_products_s(members: int, train_rows: int, validation_rows: int) -> float:
    """Seconds per epoch of the matrix products alone of a fleet of the lecture network:
    the arithmetic no implementation can skip (forward, the two weight gradients and the
    hidden layer's gradient at every step of `BATCH` shared rows, forward on the held-out
    rows), timed with the members' weights as one batched product each, at its best of 3."""
    import math
    import time as _time

    import torch

    hidden, classes = 32, 10
    w1, w2 = torch.rand(members, 784, hidden), torch.rand(members, hidden, classes)
    b1, b2 = torch.rand(members, 1, hidden), torch.rand(members, 1, classes)

    inputs = {rows: torch.rand(1, rows, 784).expand(members, -1, -1) for rows in (BATCH, 1)}

    def step(rows):
        x = inputs.get(rows)
        if x is None:
            x = inputs[rows] = torch.rand(1, rows, 784).expand(members, -1, -1)
        h = torch.baddbmm(b1, x, w1)
        out = torch.baddbmm(b2, h, w2)
        return x, h, out

    def epoch():
        for _ in range(math.ceil(train_rows / BATCH)):
            x, h, out = step(BATCH)
            torch.bmm(h.transpose(1, 2), out)
            hidden_grad = torch.bmm(out, w2.transpose(1, 2))
            torch.bmm(x.transpose(1, 2), hidden_grad)
        for start in range(0, validation_rows, BATCH):
            step(min(BATCH, validation_rows - start))

    epoch()  # warm-up
    times = []
    for _ in range(3):
        began = _time.perf_counter()
        epoch()
        times.append(_time.perf_counter() - began)
    return min(times)


def child_fleet(cfg: dict) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(cfg["threads"])
    netfleet, classes, import_s, seed_fn = _netfleet_import()
    from netfleet.optimizers import Adam

    if seed_fn is not None:
        seed_fn(cfg["seed"])
    data = _netfleet_data(cfg)
    lrs = fleet_learning_rates(cfg["members"], cfg["fleet_lr"])
    times, fit_s, _, history, score = lecture_fit(
        *classes, data, cfg["epochs"], optimizer=Adam(learning_rate=lrs)
    )
    loss = np.asarray(score[0], dtype=float).reshape(-1)
    acc = np.asarray(score[1], dtype=float).reshape(-1)
    if acc.shape != (cfg["members"],):
        raise RuntimeError(
            f"evaluate on a fleet of {cfg['members']} returned accuracy of shape "
            f"{acc.shape}, expected ({cfg['members']},)"
        )
    best, worst = int(acc.argmax()), int(acc.argmin())
    rows = len(data[0])
    validation = int(rows * VALIDATION_SPLIT)
    return {
        **C.epoch_stats(times),
        "matrix_products_s": matrix_products_s(cfg["members"], rows - validation, validation),
        "fit_s": fit_s,
        "import_s": import_s,
        "members": cfg["members"],
        "learning_rates": lrs,
        "test_loss": loss.tolist(),
        "test_accuracy": acc.tolist(),
        "test_accuracy_best": float(acc[best]),
        "test_accuracy_worst": float(acc[worst]),
        "best_member_lr": lrs[best],
        "worst_member_lr": lrs[worst],
        "history_last": _history_last(history),
        "versions": {"netfleet": getattr(netfleet, "__version__", "?"), "torch": torch.__version__},
    }


CHILDREN = {
    "torch": child_torch,
    "keras": child_keras,
    "netfleet": child_netfleet,
    "fleet": child_fleet,
}


def run_child(system: str, cfg: dict) -> None:
    """Entry point of a child process: run one system, print one JSON result line."""
    C.run_child(system, lambda: CHILDREN[system](cfg))


# =========================================================================== parent


NOISY_SPREAD = 1.5  # steady epochs of one run differing by more than this: the host was busy


def _best(runs: list[dict], stat: str) -> dict:
    """Of repeated runs of one system, the one with the lowest `stat` (median_s or min_s)."""
    ok = [r for r in runs if "error" not in r and r.get(stat) is not None]
    if not ok:
        return runs[-1]
    best = dict(min(ok, key=lambda r: r[stat]))
    if len(ok) > 1:
        best["repeat_s"] = [r[stat] for r in ok]
    return best


def report(results: dict, args) -> dict:
    t = results.get("torch", {})
    nf = results.get("netfleet", {})
    fl = results.get("fleet", {})
    ks = results.get("keras", {})

    stat = args.stat

    def med(r):
        return r.get(stat) if r and "error" not in r else None

    base = med(t)

    print()
    print(
        f"MNIST 784-32-10, Adam 1e-3, batch {BATCH}, validation_split {VALIDATION_SPLIT}, "
        f"{args.epochs} epochs, {args.threads} threads, each system in a fresh process"
    )
    mi = C.machine_info()
    print(f"machine: {mi['cpu']} ({mi['cpu_count']} cpus), {mi['platform']}, python {mi['python']}")
    print()

    headers = [
        "system",
        "s/epoch median",
        "mean",
        "min",
        "1st epoch",
        "test accuracy",
        f"x torch ({stat.split('_')[0]})",
        "notes",
    ]
    rows = []
    for s in [s for s in SYSTEMS if s in results]:
        r = results[s]
        label = LABELS[s] + (f" x{r.get('members', args.members)}" if s == "fleet" else "")
        if "error" in r:
            rows.append([label, "-", "-", "-", "-", "-", "-", "unavailable (see below)"])
            continue
        if s == "fleet":
            acc = f"{r['test_accuracy_worst']:.4f}-{r['test_accuracy_best']:.4f}"
        else:
            acc = C.fmt(r.get("test_accuracy"), ".4f")
        notes = [r.get("notes", "")] if r.get("notes") else []
        if r.get("spread") and r["spread"] > NOISY_SPREAD:
            notes.append(f"NOISY: epochs {r['min_s']:.3f}-{r['min_s'] * r['spread']:.3f} s")
        if r.get("repeat_s"):
            notes.append("best of " + ", ".join(f"{m:.3f}" for m in r["repeat_s"]))
        rows.append(
            [
                label,
                C.fmt(r["median_s"]),
                C.fmt(r["mean_s"]),
                C.fmt(r.get("min_s")),
                C.fmt(r["first_epoch_s"]),
                acc,
                C.fmt(C.ratio(r[stat], base), ".2f"),
                "; ".join(notes),
            ]
        )
        if s == "fleet":
            m = r.get("members", args.members)
            per = r[stat] / m
            rows.append(
                [
                    f"  per member (/{m})",
                    C.fmt(r["median_s"] / m),
                    C.fmt(r["mean_s"] / m),
                    C.fmt(r["min_s"] / m),
                    "-",
                    "-",
                    C.fmt(C.ratio(per, base), ".2f"),
                    f"best lr {r['best_member_lr']:.2g}, worst lr {r['worst_member_lr']:.2g}",
                ]
            )
    C.print_table(headers, rows)

    ratios = {}
    members = fl.get("members", args.members)
    floor = fl.get("matrix_products_s") if fl and "error" not in fl else None
    print()
    print(f"ratios ({stat.replace('_s', '')} s/epoch, this run):")
    specs = [
        ("netfleet / torch", med(nf), base, "<=", 1.1),
        ("keras / netfleet", med(ks), med(nf), ">=", 3.5),
        (f"fleet-{members} / netfleet-1", med(fl), med(nf), "<=", members / 4),
        (f"matrix products-{members} / netfleet-1", floor, med(nf), None, None),
        ("keras / torch", med(ks), base, None, None),
    ]
    for name, a, b, op, target in specs:
        r = C.ratio(a, b)
        ratios[name] = r
        if r is None:
            print(f"  {name:<24} -    (missing: a system did not run)")
            continue
        if op is None:
            print(f"  {name:<24} {r:6.2f}")
            continue
        ok = {"<=": r <= target, ">=": r >= target, "<": r < target}[op]
        print(f"  {name:<24} {r:6.2f}   target {op} {target:g}: {'met' if ok else 'NOT met'}")
    if floor is not None and med(fl) is not None and med(nf) is not None:
        print(
            f"  per member, x netfleet-1: the fleet {med(fl) / members / med(nf):.2f} (target "
            f"0.25), its matrix products alone {floor / members / med(nf):.2f} (a lower "
            "bound on this machine)"
        )
    noisy = [
        s for s, r in results.items() if "error" not in r and (r.get("spread") or 1) > NOISY_SPREAD
    ]
    C.report_conditions(
        results, SYSTEMS, args.verbose, noisy, hint="use --repeat or compare with --stat min"
    )
    return ratios


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument(
        "--data",
        default=None,
        help="data root holding mnist/ (default: $NETFLEET_DATA or ../shared/data "
        "relative to the repository root)",
    )
    ap.add_argument("--members", type=int, default=16, help="fleet size for the fleet bench")
    ap.add_argument(
        "--fleet-lr",
        choices=("sweep", "same"),
        default="sweep",
        help="fleet learning rates: 'sweep' = np.geomspace(3e-4, 3e-3, members), "
        "'same' = [1e-3] * members (default: sweep)",
    )
    C.add_run_arguments(
        ap,
        SYSTEMS,
        timeout=1800,
        keras_help="interpreter for the keras child (e.g. a separate venv's python)",
    )
    ap.add_argument(
        "--torch-bare",
        action="store_true",
        help="torch loop without the per-step train loss / accuracy accumulation "
        "(netfleet and Keras compute both; default: computed, on the device)",
    )
    ap.add_argument(
        "--stat",
        choices=("median", "min"),
        default="median",
        help="per-epoch statistic the ratios use (default median; min is steadier on a busy host)",
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if args.child:
        run_child(args.child, json.loads(args.child_config))
        return 0

    only = C.selected_systems(ap, args.only, SYSTEMS, ALIASES)

    try:
        data = str(C.mnist_dir(args.data))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = {
        "epochs": args.epochs,
        "data": data,
        "members": args.members,
        "fleet_lr": args.fleet_lr,
        "torch_bare": args.torch_bare,
        "threads": args.threads,
        "seed": args.seed,
    }

    runs: dict[str, list[dict]] = {s: [] for s in only}
    for rep in range(args.repeat):
        order = only if rep % 2 == 0 else only[::-1]
        for s in order:
            python = args.keras_python if (s == "keras" and args.keras_python) else sys.executable
            tag = f" (round {rep + 1}/{args.repeat})" if args.repeat > 1 else ""
            print(f"running {s}{tag} ...", file=sys.stderr, flush=True)
            r = C.spawn(__file__, s, cfg, python, args.timeout)
            runs[s].append(r)
            if "error" in r:
                print(f"  {s} unavailable: {r['error']}", file=sys.stderr, flush=True)
            else:
                print(
                    f"  {s}: {r['median_s']:.3f} s/epoch (median; min {r['min_s']:.3f}), "
                    f"load {C.fmt(r.get('load_start'), '.1f')}, test accuracy "
                    f"{r['test_accuracy'] if s != 'fleet' else r['test_accuracy_best']:.4f}"
                    f"{' (best member)' if s == 'fleet' else ''}, process "
                    f"{r['process_wall_s']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    args.stat = args.stat + "_s"
    results = {s: _best(rs, args.stat) for s, rs in runs.items()}
    ratios = report(results, args)

    if args.json:
        config = {
            **cfg,
            "batch_size": BATCH,
            "validation_split": VALIDATION_SPLIT,
            "repeat": args.repeat,
            "stat": args.stat,
        }
        C.write_results(
            args.json,
            "mnist_network",
            config,
            results,
            runs=runs if args.repeat > 1 else None,
            ratios=ratios,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
