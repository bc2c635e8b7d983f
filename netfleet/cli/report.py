"""`netfleet report DIR`: render a report folder's report.html again from its saved
results.json and PNG figures, without retraining."""

import argparse


def register(commands):
    parser = commands.add_parser(
        "report",
        help="render a report folder's report.html again from its saved results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", metavar="DIR", help="a report folder")
    parser.set_defaults(run=run)


def run(args):
    from netfleet.reports import rerender

    print(f"Report: {rerender(args.folder)}")
    return 0
