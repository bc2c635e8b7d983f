"""The list of labs and `run_lab`, which runs one and writes its report folder."""

from pathlib import Path

from netfleet.errors import unknown_name_error
from netfleet.labs import gates, gradient_descent, mnist
from netfleet.labs.progress import Progress

LABS = {"gates": gates, "gradient-descent": gradient_descent, "mnist": mnist}


def default_folder(name, quick=False):
    """Where a lab's report goes unless told: `netfleet-reports/<name>[-quick]`."""
    return Path("netfleet-reports") / (f"{name}-quick" if quick else name)


def run_lab(name, *, quick=False, out=None, progress=None):
    """Run the lab `name` and write its report folder.

    Args:
        name: One of `LABS`.
        quick: Train on subsets, for a run under a minute. Defaults to `False`.
        out: The report folder. Defaults to `default_folder(name, quick)`.
        progress: A `Progress`. Defaults to one printing to a terminal's stdout.

    Returns:
        The report folder's absolute `Path`.
    """
    if name not in LABS:
        raise unknown_name_error("lab", name, list(LABS))
    progress = Progress() if progress is None else progress
    report = LABS[name].make_report(quick=quick, progress=progress)
    folder = report.write(default_folder(name, quick) if out is None else out)
    progress.step(f"report written to {folder}")
    return folder
