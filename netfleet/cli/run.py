"""`netfleet run EXPERIMENT.toml [--set key=value ...] [--out DIR]`: check an experiment
file, train its sweep as fleets and write its report (see netfleet.labs.experiment for the
file's keys). Every problem in the file is reported before anything trains."""

import argparse


def register(commands):
    parser = commands.add_parser(
        "run",
        help="run an experiment file (TOML) and write its report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("experiment", metavar="EXPERIMENT.toml", help="the experiment file")
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="replace a value, e.g. --set fit.epochs=5 --set sweep.learning_rate=[0.1,0.5]",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="report folder (default netfleet-reports/<file name>)"
    )
    parser.add_argument(
        "--device",
        help="where to compute: auto (CUDA when available, the default), cpu, cuda or cuda:N",
    )
    parser.set_defaults(run=run)


def run(args):
    from netfleet import config
    from netfleet.labs import Progress, run_experiment

    with config.device_scope(args.device, "netfleet run"):
        folder = run_experiment(
            args.experiment, overrides=args.overrides, out=args.out, progress=Progress()
        )
    print(f"Report: {folder / 'report.html'}")
    return 0
