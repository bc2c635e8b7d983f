#!/usr/bin/env python
"""keras-io's MNIST convnet, timed in netfleet, a lean hand-written PyTorch loop and Keras,
and as a 4-member learning-rate fleet against the same 4 runs one after another.

Model (keras-io examples/vision/mnist_convnet.py): Conv2D(32, 3, relu) -> MaxPooling2D(2) ->
Conv2D(64, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dropout(0.5) -> Dense(10, softmax), Adam
(Keras' defaults), categorical cross-entropy, batch 128, pixels / 255, validation_split 0.1.

Systems (each in a fresh subprocess, capped at --threads threads):
  torch     lean hand-written PyTorch loop: tensors in memory, channels-last (torch's fast
            CPU layout; --torch-layout nchw for the default one), torch.randperm per epoch,
            Adam (fused, else foreach), no host sync inside an epoch, validation each epoch
  keras     Keras 3, TensorFlow backend, the example's code
  netfleet  the example with only its imports changed to netfleet
  fleet     the same model as one netfleet fleet of 4 members (a list of learning rates)
  singles   the fleet's 4 learning rates as 4 netfleet runs, one after another

    python bench/convnet.py [--epochs 3] [--data ../shared/data] [--train-size N]
                            [--only torch,netfleet,keras,fleet,singles] [--json out.json]

Seconds per epoch are the median of the epochs after the first (the first pays warm-up and
is reported apart); for `singles`, an epoch is that epoch of all 4 runs. Compare the ratios
of one run, never seconds across runs. Targets on 2 CPU cores: netfleet <= 1.1 x torch, the
fleet <= 0.8 x the 4 single runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

SYSTEMS = ("torch", "netfleet", "fleet", "singles", "keras")
ALIASES = {"pytorch": "torch", "tf": "keras", "netfleet-fleet": "fleet"}
LABELS = {
    "torch": "torch (lean hand-written loop)",
    "netfleet": "netfleet",
    "fleet": "netfleet fleet x4",
    "singles": "netfleet 4 single runs",
    "keras": "keras 3 / tensorflow",
}
BATCH = 128
VALIDATION_SPLIT = 0.1
LEARNING_RATES = [3e-4, 1e-3, 2e-3, 4e-3]
TARGETS = [
    ("netfleet / torch", "netfleet", "torch", 1.1),
    ("fleet x4 / 4 single runs", "fleet", "singles", 0.8),
]


# =========================================================================== children
def _data(cfg):
    """The example's preparation: [0, 1] pixels with a channel axis, integer labels (one-hot
    where the example asks for it), the first `train_size` training images."""
    import numpy as np

    (x_train, y_train), (x_test, y_test) = C.load_mnist(cfg["data"])
    n = cfg["train_size"] or len(x_train)
    x_train = np.expand_dims(x_train[:n].astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test[: cfg["test_size"] or None].astype("float32") / 255, -1)
    return x_train, y_train[:n], x_test, y_test[: cfg["test_size"] or None]


def example_fit(keras, layers, callback_class, data, epochs, optimizer="adam"):
    """The keras-io example's model, compile and fit, with Keras' or netfleet's modules
    passed in. Returns (epoch times, fit seconds, history, test [loss, accuracy])."""

    class EpochTimer(callback_class):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.started)

    x_train, y_train, x_test, y_test = data
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    timer = EpochTimer()
    started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=BATCH,
        epochs=epochs,
        validation_split=VALIDATION_SPLIT,
        callbacks=[timer],
        verbose=0,
    )
    fit_s = time.perf_counter() - started
    return timer.times, fit_s, history, model.evaluate(x_test, y_test, verbose=0)


def child_torch(cfg):
    started = time.perf_counter()
    import torch
    import torch.nn.functional as F
    from torch import nn

    import_s = time.perf_counter() - started
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    x_train, y_train, x_test, y_test = _data(cfg)
    layout = (
        torch.channels_last if cfg["torch_layout"] == "channels_last" else torch.contiguous_format
    )

    def images(array):  # NHWC arrays as torch's (N, C, H, W), in memory as `layout`
        return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous(memory_format=layout)

    split = int(-(-len(x_train) * (1.0 - VALIDATION_SPLIT) // 1))  # Keras' last 10 %
    x, y = images(x_train), torch.from_numpy(y_train.astype("int64"))
    x_fit, y_fit, x_val, y_val = x[:split], y[:split], x[split:], y[split:]
    x_test, y_test = images(x_test), torch.from_numpy(y_test.astype("int64"))
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),  # flattens (C, H, W), not Keras' (H, W, C): the same model, permuted
        nn.Dropout(0.5),
        nn.Linear(1600, 10),
    ).to(memory_format=layout)
    for module in model:  # Keras' initialisation: glorot_uniform kernels, zero biases
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    adam = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}  # Keras' Adam defaults
    try:
        optimizer = torch.optim.Adam(model.parameters(), fused=True, **adam)
        kind = "fused"
    except (RuntimeError, TypeError, ValueError):
        optimizer = torch.optim.Adam(model.parameters(), foreach=True, **adam)
        kind = "foreach"

    times, history = [], {}
    fit_started = time.perf_counter()
    for _ in range(cfg["epochs"]):
        started = time.perf_counter()
        model.train()
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.int64)
        for rows in torch.randperm(split).split(BATCH):
            logits = model(x_fit[rows])
            loss = F.cross_entropy(logits, y_fit[rows])  # softmax + categorical CE
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():  # like Keras: the epoch's training loss and accuracy
                loss_sum += loss.detach() * rows.shape[0]
                correct += (logits.argmax(1) == y_fit[rows]).sum()
        model.eval()
        with torch.no_grad():
            val_logits = model(x_val)
            history = {
                "loss": loss_sum.item() / split,
                "accuracy": correct.item() / split,
                "val_loss": F.cross_entropy(val_logits, y_val).item(),
                "val_accuracy": (val_logits.argmax(1) == y_val).float().mean().item(),
            }
        times.append(time.perf_counter() - started)
    fit_s = time.perf_counter() - fit_started
    with torch.no_grad():
        test_logits = model(x_test)
    return {
        **C.epoch_stats(times),
        "fit_s": fit_s,
        "import_s": import_s,
        "test_loss": F.cross_entropy(test_logits, y_test).item(),
        "test_accuracy": (test_logits.argmax(1) == y_test).float().mean().item(),
        "history_last": history,
        "versions": {"torch": torch.__version__},
        "notes": f"{cfg['torch_layout']}, Adam {kind}",
    }


def child_keras(cfg):
    tf, keras, import_s = C.tensorflow_keras(cfg["threads"])
    from keras import layers

    keras.utils.set_random_seed(cfg["seed"])
    times, fit_s, history, score = example_fit(
        keras, layers, keras.callbacks.Callback, _data(cfg), cfg["epochs"]
    )
    return {
        **C.epoch_stats(times),
        "fit_s": fit_s,
        "import_s": import_s,
        "test_loss": float(score[0]),
        "test_accuracy": float(score[1]),
        "history_last": {k: v[-1] for k, v in history.history.items()},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }


def _netfleet(cfg):
    import torch

    torch.set_num_threads(cfg["threads"])
    started = time.perf_counter()
    import netfleet
    from netfleet import layers

    return netfleet, layers, time.perf_counter() - started


def _netfleet_result(netfleet, times, fit_s, import_s, history, score):
    import numpy as np
    import torch

    accuracy = np.asarray(score[1], dtype=float).reshape(-1)
    return {
        **C.epoch_stats(times),
        "fit_s": fit_s,
        "import_s": import_s,
        "test_loss": np.asarray(score[0], dtype=float).reshape(-1).tolist(),
        "test_accuracy": float(accuracy.max()),
        "test_accuracy_members": accuracy.tolist(),
        "history_last": {k: np.asarray(v[-1]).tolist() for k, v in history.history.items()},
        "versions": {"netfleet": netfleet.__version__, "torch": torch.__version__},
    }


def child_netfleet(cfg):
    netfleet, layers, import_s = _netfleet(cfg)
    netfleet.utils.set_random_seed(cfg["seed"])
    times, fit_s, history, score = example_fit(
        netfleet, layers, netfleet.callbacks.Callback, _data(cfg), cfg["epochs"]
    )
    return _netfleet_result(netfleet, times, fit_s, import_s, history, score)


def child_fleet(cfg):
    netfleet, layers, import_s = _netfleet(cfg)
    netfleet.utils.set_random_seed(cfg["seed"])
    optimizer = netfleet.optimizers.Adam(learning_rate=LEARNING_RATES)
    times, fit_s, history, score = example_fit(
        netfleet, layers, netfleet.callbacks.Callback, _data(cfg), cfg["epochs"], optimizer
    )
    return {
        **_netfleet_result(netfleet, times, fit_s, import_s, history, score),
        "learning_rates": LEARNING_RATES,
    }


def child_singles(cfg):
    """The fleet's runs one after another; an epoch's time is that epoch of all of them."""
    netfleet, layers, import_s = _netfleet(cfg)
    data, runs = _data(cfg), []
    for rate in LEARNING_RATES:
        netfleet.utils.set_random_seed(cfg["seed"])
        optimizer = netfleet.optimizers.Adam(learning_rate=rate)
        runs.append(
            example_fit(
                netfleet, layers, netfleet.callbacks.Callback, data, cfg["epochs"], optimizer
            )
        )
    times = [sum(epoch) for epoch in zip(*(run[0] for run in runs))]
    best = max(runs, key=lambda run: run[3][1])
    result = _netfleet_result(
        netfleet, times, sum(run[1] for run in runs), import_s, best[2], best[3]
    )
    return {**result, "learning_rates": LEARNING_RATES}


CHILDREN = {
    "torch": child_torch,
    "netfleet": child_netfleet,
    "fleet": child_fleet,
    "singles": child_singles,
    "keras": child_keras,
}


# =========================================================================== parent
def report(results, args):
    stat = args.stat + "_s"

    def seconds(system):
        result = results.get(system)
        return None if not result or "error" in result else result.get(stat)

    print()
    print(
        f"keras-io mnist_convnet, Adam, batch {BATCH}, validation_split {VALIDATION_SPLIT}, "
        f"{args.epochs} epochs on {args.train_size or 60000} images, {args.threads} threads, "
        "each system in a fresh process"
    )
    machine = C.machine_info()
    print(f"machine: {machine['cpu']} ({machine['cpu_count']} cpus), {machine['platform']}")
    print()
    rows = []
    for system in [s for s in SYSTEMS if s in results]:
        result = results[system]
        if "error" in result:
            rows.append([LABELS[system], "-", "-", "-", "-", "unavailable (see below)"])
            continue
        rows.append(
            [
                LABELS[system],
                C.fmt(result["median_s"]),
                C.fmt(result.get("min_s")),
                C.fmt(result["first_epoch_s"]),
                C.fmt(result.get("test_accuracy"), ".4f"),
                result.get("notes", ""),
            ]
        )
    C.print_table(
        ["system", "s/epoch median", "min", "1st epoch", "test accuracy (best)", "notes"], rows
    )
    print()
    print(f"ratios ({args.stat} s/epoch, this run):")
    ratios = {}
    for name, numerator, denominator, target in TARGETS:
        value = C.ratio(seconds(numerator), seconds(denominator))
        ratios[name] = value
        if value is None:
            print(f"  {name:<26} -      (missing: a system did not run)")
        else:
            verdict = "met" if value <= target else "NOT met"
            print(f"  {name:<26} {value:6.2f}   target <= {target:g}: {verdict}")
    keras_ratio = C.ratio(seconds("keras"), seconds("netfleet"))
    ratios["keras / netfleet"] = keras_ratio
    print(f"  {'keras / netfleet':<26} {C.fmt(keras_ratio, '6.2f')}")
    for system, result in results.items():
        if "error" in result:
            print(f"\n{system} unavailable: {result['error']}")
            if args.verbose and result.get("stderr_tail"):
                print(result["stderr_tail"])
    return ratios


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--data",
        default=None,
        help="data root holding mnist/ (default: $NETFLEET_DATA or ../shared/data)",
    )
    parser.add_argument(
        "--train-size", type=int, default=0, help="train on the first N images (default: all)"
    )
    parser.add_argument(
        "--test-size",
        type=int,
        default=0,
        help="evaluate on the first N test images (default: all)",
    )
    parser.add_argument(
        "--torch-layout", choices=("channels_last", "nchw"), default="channels_last"
    )
    parser.add_argument("--stat", choices=("median", "min"), default="median")
    parser.add_argument("--seed", type=int, default=0)
    C.add_run_arguments(parser, SYSTEMS, timeout=3600, keras_help="interpreter for the keras child")
    args = parser.parse_args(argv)
    if args.child:
        C.run_child(args.child, lambda: CHILDREN[args.child](json.loads(args.child_config)))
        return 0
    systems = C.selected_systems(parser, args.only, SYSTEMS, ALIASES)
    try:
        data = str(C.mnist_dir(args.data))
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    cfg = {
        "epochs": args.epochs,
        "data": data,
        "train_size": args.train_size,
        "test_size": args.test_size,
        "torch_layout": args.torch_layout,
        "threads": args.threads,
        "seed": args.seed,
    }
    results = {}
    for repeat in range(args.repeat):
        for system in systems if repeat % 2 == 0 else systems[::-1]:
            python = (
                args.keras_python if system == "keras" and args.keras_python else sys.executable
            )
            print(f"running {system} ...", file=sys.stderr, flush=True)
            result = C.spawn(__file__, system, cfg, python, args.timeout)
            best = results.get(system)
            if (
                best is None
                or "error" in best
                or ("error" not in result and result[args.stat + "_s"] < best[args.stat + "_s"])
            ):
                results[system] = result
    ratios = report(results, args)
    if args.json:
        config = {**cfg, "batch_size": BATCH, "learning_rates": LEARNING_RATES}
        C.write_results(args.json, "convnet", config, results, ratios=ratios)
    return 0


if __name__ == "__main__":
    sys.exit(main())
