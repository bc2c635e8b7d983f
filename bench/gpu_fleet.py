#!/usr/bin/env python
"""Fleets on one GPU: training throughput of M members trained as one netfleet fleet, against
the same model trained one at a time on the same device, and against `torch.func` ensembling
(`stack_module_state` + `vmap(functional_call)`, a hand-written loop with one Adam).

Models:
  mlp      the lecture's 784 -> Dense(32) relu -> Dense(10) softmax, Adam, batch 128,
           M in {1, 16, 64, 256, 1024} (--members)
  convnet  the keras-io MNIST convnet (Conv2D 32 -> MaxPool -> Conv2D 64 -> MaxPool ->
           Flatten -> Dropout 0.5 -> Dense 10 softmax), Adam, batch 128, M in {1, 8, 32}
           (--conv-members), when netfleet has the convolutional layers

    python bench/gpu_fleet.py [--device cuda] [--steps 200] [--members 1,16,64,256,1024]
                              [--conv-members 1,8,32] [--only mlp,convnet] [--json out.json]

Throughput is member-examples per second: M x batch x steps / seconds, over `--steps` timed
training steps after `--warmup` untimed ones (one `fit` per measurement; the timer starts at
the first timed batch and stops after a device synchronisation). "one at a time" is the
throughput of the M = 1 run: M models trained one after another take M times as long. GPU
memory is the peak allocated during the measurement. MNIST comes from $NETFLEET_DATA (or
../shared/data); without it, random data of MNIST's shape is used (throughput does not
depend on the values). The whole default run finishes in a few minutes on one H100/H200.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

BATCH = 128
TARGET_AT_256 = 30.0  # the target: >= 30x one-at-a-time throughput at M = 256 (MLP)


# --------------------------------------------------------------------------- data
def mnist_arrays(data, rows):
    """(x, y_onehot) float32 arrays of `rows` MNIST training images, or random ones."""
    try:
        (x, y), _ = C.load_mnist(data)
        source = "mnist"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (rows, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, rows)
        source = "random (MNIST shape)"
    x, y = x[:rows].astype("float32") / 255, y[:rows]
    return x, np.eye(10, dtype="float32")[y], source


# --------------------------------------------------------------------------- netfleet
def build_mlp(nf):
    from netfleet.layers import Activation, Dense

    return nf.Sequential(
        [Dense(32, input_shape=(784,)), Activation("relu"), Dense(10), Activation("softmax")]
    )


def build_convnet(nf):
    from netfleet import layers

    return nf.Sequential(
        [
            nf.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


def netfleet_throughput(kind, members, x, y, steps, warmup):
    """Member-examples per second of an M-member netfleet fleet (learning-rate sweep)."""
    import torch

    import netfleet as nf
    from netfleet.optimizers import Adam

    nf.utils.set_random_seed(0)
    model = build_mlp(nf) if kind == "mlp" else build_convnet(nf)
    rates = [float(r) for r in np.geomspace(3e-4, 3e-3, members)] if members > 1 else 1e-3
    model.compile(optimizer=Adam(learning_rate=rates), loss="categorical_crossentropy")
    timer = step_timer(warmup)
    rows = (steps + warmup) * BATCH
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    model.fit(x[:rows], y[:rows], batch_size=BATCH, epochs=1, verbose=0, callbacks=[timer])
    seconds = timer.seconds()
    memory = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    return {
        "members": members,
        "seconds": seconds,
        "rate": members * BATCH * steps / seconds,
        "memory_bytes": memory,
    }


def step_timer(warmup):
    """A netfleet callback timing the training steps after the first `warmup` ones (with a
    device synchronisation at both ends); `.seconds()` reads the result."""
    import torch

    from netfleet.callbacks import Callback

    class StepTimer(Callback):
        start = end = None

        def on_train_batch_begin(self, step, logs=None):
            if step == warmup:
                _sync(torch)
                self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            _sync(torch)
            self.end = time.perf_counter()

        def seconds(self):
            return self.end - self.start

    return StepTimer()


# --------------------------------------------------------------------------- torch.func
def vmap_throughput(kind, members, x, y, steps, warmup, device):
    """Member-examples per second of `torch.func` ensembling: M copies of the model stacked
    with `stack_module_state`, a vmapped forward, one backward, one Adam over the stacks."""
    import torch
    from torch import nn
    from torch.func import functional_call, stack_module_state, vmap

    if kind == "mlp":

        def make():
            return nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))

        xs = torch.as_tensor(x.reshape(len(x), -1), device=device)
    else:

        def make():
            return nn.Sequential(
                nn.Conv2d(1, 32, 3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Dropout(0.5),
                nn.Linear(1600, 10),
            )

        xs = torch.as_tensor(x.reshape(len(x), 1, 28, 28), device=device)
    ys = torch.as_tensor(y.argmax(1), device=device)
    copies = [make().to(device) for _ in range(members)]
    params, buffers = stack_module_state(copies)
    params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    base = make().to("meta")
    optimizer = torch.optim.Adam(params.values(), lr=1e-3, eps=1e-7)

    def loss_of(p, b, xb, yb):
        logits = functional_call(base, (p, b), (xb,))
        return nn.functional.cross_entropy(logits, yb)

    losses = vmap(loss_of, in_dims=(0, 0, None, None), randomness="different")
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(xs), generator=generator).to(device)
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            _sync(torch)
            start = time.perf_counter()
        idx = order[(step * BATCH) % len(xs) :][:BATCH]
        loss = losses(params, buffers, xs[idx], ys[idx]).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _sync(torch)
    seconds = time.perf_counter() - start
    return {"members": members, "seconds": seconds, "rate": members * BATCH * steps / seconds}


def _sync(torch):
    if torch.cuda.is_available():
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- report
def measure(kind, sizes, x, y, args, device):
    """One row per M: netfleet fleet, one at a time (the M = 1 rate), vmap ensembling."""
    rows = []
    single = netfleet_throughput(kind, 1, x, y, args.steps, args.warmup)
    for members in sizes:
        fleet = (
            single
            if members == 1
            else netfleet_throughput(kind, members, x, y, args.steps, args.warmup)
        )
        try:
            vmapped = vmap_throughput(kind, members, x, y, args.steps, args.warmup, device)
        except Exception as error:  # noqa: BLE001 - reported in the table, the run goes on
            vmapped = {"error": f"{type(error).__name__}: {error}"}
        rows.append(
            {
                "model": kind,
                "members": members,
                "fleet": fleet,
                "single": single,
                "vmap": vmapped,
                "x_one_at_a_time": fleet["rate"] / single["rate"],
                "x_vmap": C.ratio(fleet["rate"], vmapped.get("rate")),
            }
        )
        print(
            f"  {kind} M={members}: {fleet['rate']:.0f} member-examples/s, "
            f"{rows[-1]['x_one_at_a_time']:.1f}x one at a time",
            file=sys.stderr,
            flush=True,
        )
    return rows


def report(rows, device, source):
    import torch

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else C.machine_info()["cpu"]
    print(
        f"\nfleet throughput on {name} ({device}), torch {torch.__version__}, batch {BATCH}, "
        f"data: {source}\n"
    )
    headers = [
        "model",
        "M",
        "fleet member-ex/s",
        "x one at a time",
        "vmap member-ex/s",
        "fleet / vmap",
        "GPU memory",
    ]
    table = []
    for r in rows:
        memory = r["fleet"].get("memory_bytes")
        table.append(
            [
                r["model"],
                str(r["members"]),
                f"{r['fleet']['rate']:,.0f}",
                f"{r['x_one_at_a_time']:.1f}",
                C.fmt(r["vmap"].get("rate"), ",.0f"),
                C.fmt(r["x_vmap"], ".2f"),
                "-" if memory is None else f"{memory / 2**20:,.0f} MiB",
            ]
        )
    C.print_table(headers, table)
    at_256 = [r for r in rows if r["model"] == "mlp" and r["members"] == 256]
    if at_256:
        ratio = at_256[0]["x_one_at_a_time"]
        verdict = "met" if ratio >= TARGET_AT_256 else "NOT met"
        print(
            f"\nMLP at M = 256: {ratio:.1f}x one at a time (target >= {TARGET_AT_256:g}: {verdict})"
        )
    for r in rows:
        if "error" in r["vmap"]:
            print(f"vmap {r['model']} M={r['members']} unavailable: {r['vmap']['error']}")


def _sizes(text):
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
    ap.add_argument("--steps", type=int, default=200, help="timed training steps per run")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps before the timer")
    ap.add_argument("--members", default="1,16,64,256,1024", help="fleet sizes for the MLP")
    ap.add_argument("--conv-members", default="1,8,32", help="fleet sizes for the convnet")
    ap.add_argument("--only", default="mlp,convnet", help="mlp, convnet or both")
    ap.add_argument("--data", default=None, help="data root holding mnist/")
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    args = ap.parse_args(argv)

    import netfleet as nf

    nf.config.set_device(args.device)
    device = nf.config.get_device()
    rows_needed = (args.steps + args.warmup) * BATCH
    x, y, source = mnist_arrays(args.data, rows_needed)
    rows = []
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    if "mlp" in kinds:
        rows += measure("mlp", _sizes(args.members), x.reshape(len(x), 784), y, args, device)
    if "convnet" in kinds:
        if hasattr(nf.layers, "Conv2D"):
            rows += measure("convnet", _sizes(args.conv_members), x[..., None], y, args, device)
        else:
            print("convnet skipped: netfleet has no Conv2D yet", file=sys.stderr)
    report(rows, device, source)
    if args.json:
        C.write_results(args.json, "gpu_fleet", {"device": str(device)}, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
