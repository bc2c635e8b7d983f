"""The report page's tables: several classifiers side by side, a classification report as
one table, no row numbers, whole numbers in full, a compact configuration."""

import html

import pandas as pd

from netfleet.reports.data import frame_to_data
from netfleet.reports.html import render


def _page(numbers=None, tables=None, config=None):
    blocks = [{"kind": "numbers", "name": name, "caption": None} for name in numbers or {}]
    blocks += [{"kind": "table", "name": name, "caption": None} for name in tables or {}]
    document = {
        "title": "t",
        "summary": "",
        "config": config or {},
        "sections": [{"title": "s", "blocks": blocks}],
        "numbers": numbers or {},
        "tables": {k: frame_to_data(v) for k, v in (tables or {}).items()},
        "versions": {"python": "3"},
        "created": "now",
    }
    return render(document, {})


def test_classifiers_are_shown_side_by_side():
    numbers = {
        "forest": {"precision": 1.0, "recall": 0.5, "auc": {"ovr": 0.9}},
        "sgd": {"precision": 0.25, "recall": 0.75, "auc": {"ovr": 0.8}},
    }
    page = _page({"scores": numbers})
    assert "<tr><th></th><th>forest</th><th>sgd</th></tr>" in page
    assert "<tr><th>precision</th><td>1</td><td>0.25</td></tr>" in page
    assert "<tr><th>auc.ovr</th><td>0.9</td><td>0.8</td></tr>" in page


def test_a_classification_report_is_one_table_with_a_row_per_class():
    report = {
        "0": {"precision": 0.9, "recall": 0.8},
        "1": {"precision": 0.7, "recall": 0.6},
        "2": {"precision": 0.5, "recall": 0.4},
        "accuracy": 0.7,
    }
    page = _page({"evaluation": {"accuracy": 0.7, "classification_report": report}})
    assert "<th>classification_report</th><td><table>" in page
    assert "<tr><th></th><th>precision</th><th>recall</th></tr>" in page  # classes down
    assert "<tr><th>2</th><td>0.5</td><td>0.4</td></tr>" in page
    assert "<th>classification_report.accuracy</th><td>0.7</td>" in page


def test_row_numbers_are_left_out_and_whole_numbers_shown_in_full():
    plain = pd.DataFrame({"support": [10000.0, 3.0], "rate": [0.123456, 0.5]})
    named = pd.DataFrame({"loss": [0.1]}, index=pd.Index(["a"], name="run"))
    page = _page(tables={"plain": plain, "named": named})
    assert "<td>10000</td>" in page and "1e+04" not in page
    assert "<td>0.1235</td>" in page
    plain_table = page.split("<table")[1]
    assert "<th>0</th>" not in plain_table  # no row numbers
    assert "<th>run</th>" in page and "<th>a</th>" in page  # a named index stays


def test_the_configuration_keeps_lists_of_values_on_one_line():
    page = html.unescape(_page(config={"grid": {"learning_rate": [0.01, 0.1]}, "title": "α × β"}))
    assert '"learning_rate": [0.01, 0.1]' in page
    assert "α × β" in page
