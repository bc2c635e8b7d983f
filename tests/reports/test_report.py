"""Report folders: what they hold, rendering again from saved results, atomic writes."""

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

from netfleet.reports import Report, load, new_figure, rerender


def _report(title="Example", accuracy=0.9):
    report = Report(title, summary="A summary.", config={"seed": 0, "grid": [1, 2]})
    section = report.section("First")
    section.text("Some <text> & more.")
    section.numbers("scores", {"accuracy": accuracy, "matrix": np.array([[3, 1], [0, 4]])})
    frame = pd.DataFrame(
        {"loss": [0.5, np.nan]},
        index=pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["x", "y"]),
    )
    section.table("runs", frame)
    figure, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    section.figure("line", figure, caption="A line")
    return report


def test_a_report_folder_holds_the_page_the_figures_and_every_number(tmp_path):
    folder = _report().write(tmp_path / "out")
    assert sorted(p.name for p in folder.iterdir()) == ["line.png", "report.html", "results.json"]
    results = json.loads((folder / "results.json").read_text())
    assert results["numbers"]["scores"] == {"accuracy": 0.9, "matrix": [[3, 1], [0, 4]]}
    assert results["tables"]["runs"]["data"] == [[0.5], [None]]
    assert results["config"] == {"seed": 0, "grid": [1, 2]}
    assert {"python", "netfleet", "torch", "scikit-learn", "matplotlib"} <= set(results["versions"])
    page = (folder / "report.html").read_text()
    png = (folder / "line.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in page
    assert "Some &lt;text&gt; &amp; more." in page
    assert not re.search(r"(src|href)=\"(http|//)", page)  # self-contained


def test_rerender_reproduces_the_same_html_from_saved_results(tmp_path):
    folder = _report().write(tmp_path / "out")
    page = (folder / "report.html").read_bytes()
    (folder / "report.html").unlink()
    assert rerender(folder).read_bytes() == page
    assert load(folder)["numbers"]["scores"]["accuracy"] == 0.9


def test_a_failed_write_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    target = tmp_path / "out"
    _report(accuracy=0.9).write(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    from netfleet.reports import report as report_module

    def broken(document, images):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "render", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _report(accuracy=0.5).write(target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_a_new_report_replaces_an_old_one(tmp_path):
    target = tmp_path / "out"
    _report(accuracy=0.9).write(target)
    _report(accuracy=0.5).write(target)
    assert load(target)["numbers"]["scores"]["accuracy"] == 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_folder_of_other_files_is_never_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a netfleet report folder"):
        _report().write(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_rerender_refuses_a_folder_that_is_not_a_report(tmp_path):
    with pytest.raises(ValueError, match="not a netfleet report folder"):
        rerender(tmp_path)


def test_item_names_must_be_unique_and_file_safe():
    section = Report("t").section("s")
    section.numbers("a", {"x": 1})
    with pytest.raises(ValueError, match="already has"):
        section.numbers("a", {"x": 2})
    with pytest.raises(ValueError, match="letters, digits"):
        section.numbers("../x", {"x": 2})
