"""`netfleet demo`: the notebook's banknotes logistic regression on the bundled data.

With one learning rate it trains one model, with several it trains them as one fleet and
prints a table of the members' final scores.
"""

import argparse


def _count(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def _rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a float > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a float > 0, got {value}")
    return value


def register(commands):
    parser = commands.add_parser(
        "demo",
        help="train the notebook's banknotes logistic regression (bundled data)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--epochs", type=_count(0), default=10, help="training epochs (default 10)")
    parser.add_argument("--batch-size", type=_count(1), default=32, help="batch size (default 32)")
    parser.add_argument(
        "--learning-rate",
        type=_rate,
        nargs="+",
        default=[0.01],
        help="SGD learning rate(s); several values train as one fleet (default 0.01)",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    parser.add_argument(
        "--device",
        help="where to compute: auto (CUDA when available, the default), cpu, cuda or cuda:N",
    )
    parser.set_defaults(run=run)


def run(args):
    from netfleet import config

    with config.device_scope(args.device, "netfleet demo"):
        return _demo(args)


def _demo(args):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import scale

    from netfleet.datasets import banknotes
    from netfleet.layers import Dense
    from netfleet.models import Sequential
    from netfleet.optimizers import SGD
    from netfleet.utils import set_random_seed

    frame = banknotes.load_frame()
    x = scale(frame.drop("class", axis=1).values)
    y = frame["class"].values
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=42)
    print(f"Banknotes: {len(x_train)} training and {len(x_test)} test examples, 4 features.")

    set_random_seed(args.seed)
    rates = args.learning_rate
    model = Sequential([Dense(1, input_shape=(4,), activation="sigmoid")])
    model.compile(
        optimizer=SGD(learning_rate=rates if len(rates) > 1 else rates[0]),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.summary()
    model.fit(
        x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose
    )
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    if len(rates) == 1:
        print(f"Test loss: {loss:.3f}")
        print(f"Test accuracy: {accuracy * 100:.1f} %")
        return 0
    print("learning_rate  test_loss  test_accuracy")
    for rate, member_loss, member_accuracy in zip(rates, loss, accuracy):
        print(f"{rate:>13g}  {member_loss:9.3f}  {member_accuracy * 100:12.1f} %")
    return 0
