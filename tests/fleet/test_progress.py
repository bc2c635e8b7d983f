"""The progress of a run of groups: one line rewritten in place on a terminal or in a
notebook, with groups and members done and the time left; nothing when not interactive."""

import io

import pytest

from netfleet.fleet import progress, sweep
from netfleet.fleet.progress import GroupProgress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_line_counts_groups_and_members_and_ends_the_line(monkeypatch):
    clock = iter([0.0, 10.0, 30.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = Terminal()
    bar = GroupProgress(groups=3, members=9, work=50, stream=out)
    bar.advance(members=2, work=10)
    bar.advance(members=5, work=30)
    bar.close()
    first, second = out.getvalue().split("\r")[1:]
    assert first.startswith("groups 1/3 ") and "members 2/9 - 10s elapsed - 40s left" in first
    # 10 units of work left, at 30 s for 40 units
    assert "groups 2/3" in second and "members 7/9 - 30s elapsed - 8s left" in second
    assert second.endswith("\n")


def test_groups_read_back_count_as_done_but_not_towards_the_pace(monkeypatch):
    clock = iter([0.0, 0.0, 20.0, 20.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = Terminal()
    bar = GroupProgress(groups=3, members=3, work=30, stream=out)
    bar.advance(members=1, work=10, resumed=True)
    bar.advance(members=1, work=10)
    bar.advance(members=1, work=10)
    lines = out.getvalue().split("\r")[1:]
    assert "left" not in lines[0]  # no pace yet
    assert "members 2/3 - 20s elapsed - 20s left" in lines[1]
    assert "groups 3/3" in lines[2] and "left" not in lines[2]
    assert len(lines[2]) >= len(lines[1])  # blanks what the longer line left


def test_nothing_is_written_when_the_output_is_not_interactive():
    out = io.StringIO()
    bar = GroupProgress(groups=1, members=1, work=1, stream=out)
    bar.advance(members=1, work=1)
    bar.close()
    assert out.getvalue() == ""


@pytest.mark.parametrize(("stdout", "shown"), [(Terminal, True), (io.StringIO, False)])
def test_a_sweep_shows_its_progress_on_a_terminal_only(
    build_model, banknotes_split, monkeypatch, stdout, shown
):
    out = stdout()
    monkeypatch.setattr("sys.stdout", out)
    x, y = banknotes_split[0][:64], banknotes_split[2][:64]
    grid = {"learning_rate": [0.1, 0.2], "batch_size": [16, 32]}
    sweep(build_model, grid, x, y, compile={"optimizer": "sgd", "loss": "binary_crossentropy"})
    text = out.getvalue()
    assert ("groups 2/2" in text and "members 4/4" in text) is shown
    assert (text == "") is not shown
