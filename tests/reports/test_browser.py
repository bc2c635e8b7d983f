"""A report opened in a real headless browser (Debian's chromium): it loads without console
errors and its figures are drawn (the screenshot is not blank where they are).

CI installs chromium with `apt-get install -y chromium`; without it this test skips.
"""

import shutil
import subprocess

import numpy as np
import pytest

from netfleet.reports import Report, new_figure

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]


def _chromium(profile, *arguments):
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    report = Report("Browser check")
    section = report.section("Figures")
    for name, colour in [("first", "tab:blue"), ("second", "tab:red")]:
        figure, ax = new_figure(size=(6, 3))
        ax.fill_between(np.arange(10), np.arange(10) ** 1.5, color=colour)
        section.figure(name, figure)
    folder = report.write(tmp_path_factory.mktemp("report") / "out")
    return folder / "report.html"


def test_the_page_loads_without_console_errors(page, tmp_path):
    run = _chromium(
        tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()
    )
    assert run.returncode == 0, run.stderr
    assert "<img" in run.stdout and "Browser check" in run.stdout
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert console == []


def test_the_figures_are_drawn(page, tmp_path):
    import matplotlib.image

    shot = tmp_path / "shot.png"
    run = _chromium(
        tmp_path / "profile", f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()
    )
    assert shot.is_file(), run.stderr
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.05  # not a blank page
    figure_band = pixels[250:900]  # below the title and the contents, where the figures are
    reds = (figure_band[..., 0] > 0.7) & (figure_band[..., 1] < 0.35) & (figure_band[..., 2] < 0.35)
    blues = (figure_band[..., 2] > 0.55) & (figure_band[..., 0] < 0.3)
    assert blues.sum() > 1000 and reds.sum() > 1000
