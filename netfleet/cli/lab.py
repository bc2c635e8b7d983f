"""`netfleet lab list | gates | gradient-descent | mnist [--quick] [--out DIR]`: run one of
the course's labs and write its report folder (report.html, PNG figures, results.json)."""

import argparse

LAB_NAMES = ("gates", "gradient-descent", "mnist")


def register(commands):
    parser = commands.add_parser(
        "lab",
        help="run one of the course's labs and write its report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=("list", *LAB_NAMES), help="a lab, or 'list'")
    parser.add_argument(
        "--quick", action="store_true", help="train on subsets: under a minute on two CPU cores"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="report folder (default netfleet-reports/<lab>[-quick])"
    )
    parser.add_argument(
        "--device",
        help="where to compute: auto (CUDA when available, the default), cpu, cuda or cuda:N",
    )
    parser.set_defaults(run=run)


def run(args):
    from netfleet import config
    from netfleet.labs import LABS, run_lab

    if args.name == "list":
        for name, lab in LABS.items():
            print(f"{name:<18} {lab.DESCRIPTION}")
        return 0
    with config.device_scope(args.device, "netfleet lab"):
        folder = run_lab(args.name, quick=args.quick, out=args.out)
    print(f"Report: {folder / 'report.html'}")
    return 0
