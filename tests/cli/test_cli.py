"""The `netfleet lab`, `netfleet report` and `netfleet run` commands."""

import pytest

from netfleet.cli import main


def test_lab_list_names_every_lab(capsys):
    assert main(["lab", "list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["gates", "gradient-descent", "mnist"]


@pytest.mark.slow
def test_a_quick_lab_prints_where_its_report_is_and_report_renders_it_again(tmp_path, capsys):
    folder = tmp_path / "gates"
    assert main(["lab", "gates", "--quick", "--out", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out == f"Report: {folder / 'report.html'}\n"  # no progress: not a terminal
    page = (folder / "report.html").read_bytes()
    (folder / "report.html").write_text("stale")
    assert main(["report", str(folder)]) == 0
    assert (folder / "report.html").read_bytes() == page


def test_report_on_a_folder_that_is_not_a_report_fails_clearly(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a netfleet report folder" in capsys.readouterr().err


def test_run_reports_a_bad_experiment_file_before_training(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[data]\nname = "banknotes"\n[model]\nlayers = []\n')
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "[model] layers (line 4): expected a non-empty list" in err
    assert not (tmp_path / "out").exists()


def test_run_trains_an_experiment_with_overrides(tmp_path, capsys):
    path = tmp_path / "exp.toml"
    path.write_text(
        '[data]\nname = "banknotes"\n[model]\n'
        'layers = [{type = "Dense", units = 1, activation = "sigmoid"}]\n[fit]\nepochs = 5\n'
    )
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                str(path),
                "--set",
                "fit.epochs=1",
                "--set",
                "sweep.learning_rate=[0.1,1.0]",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == f"Report: {out / 'report.html'}\n"
    assert (out / "results.json").is_file()
