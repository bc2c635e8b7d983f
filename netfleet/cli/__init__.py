"""The `netfleet` command: a thin parser that delegates each subcommand to one library call."""

import argparse
import sys

from netfleet.cli import demo, lab, report, run


def build_parser():
    parser = argparse.ArgumentParser(
        prog="netfleet",
        description="Keras-style deep learning on PyTorch, where any model is a fleet.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo.register(commands)
    lab.register(commands)
    run.register(commands)
    report.register(commands)
    return parser


def main(argv=None):
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, TypeError, OSError) as err:
        print(f"netfleet {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
