"""`render`: a report's document (its `results.json`) and figures (PNG bytes) as one
self-contained HTML page: images embedded as base64, tables as HTML, no scripts, no links
out. The same inputs always give the same page."""

import base64
import html
import json

import pandas as pd

from netfleet.reports.data import frame_from_data

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption, .caption { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f2f2f2; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
nav ol { columns: 2; }
"""


def render(document, images):
    """The HTML page of a report.

    Args:
        document: The report's results (as `Report.document()` gives and `results.json`
            holds).
        images: Figure file name -> PNG bytes.

    Returns:
        The page as a string.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(document['title'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_text(document['title'])}</h1>",
    ]
    if document.get("summary"):
        parts.append(f"<p>{_text(document['summary'])}</p>")
    parts.append("<nav><ol>")
    for number, section in enumerate(document["sections"], 1):
        parts.append(f'<li><a href="#section-{number}">{_text(section["title"])}</a></li>')
    parts.append("</ol></nav>")
    for number, section in enumerate(document["sections"], 1):
        parts.append(f'<section id="section-{number}"><h2>{_text(section["title"])}</h2>')
        parts.extend(_block(block, document, images) for block in section["blocks"])
        parts.append("</section>")
    parts.append("<h2>Configuration</h2>")
    parts.append(f"<pre>{_text(_json(document['config']))}</pre>")
    parts.append("<h2>Versions</h2>")
    parts.append(_mapping_table(document["versions"]))
    parts.append(f'<p class="caption">Written {_text(document["created"])}.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _block(block, document, images):
    kind = block["kind"]
    caption = block.get("caption")
    if kind == "text":
        return f"<p>{_text(block['text'])}</p>"
    if kind == "figure":
        encoded = base64.b64encode(images[block["file"]]).decode("ascii")
        alt = _text(caption or block["name"])
        return (
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{alt}">'
            + (f"<figcaption>{_text(caption)}</figcaption>" if caption else "")
            + "</figure>"
        )
    if kind == "table":
        frame = frame_from_data(document["tables"][block["name"]])
        return _captioned(_frame_html(frame), caption)
    if kind == "numbers":
        return _captioned(_mapping_table(document["numbers"][block["name"]]), caption)
    raise ValueError(f"Unknown report block kind {kind!r}.")


def _captioned(body, caption):
    return (f'<p class="caption">{_text(caption)}</p>' if caption else "") + body


def _frame_html(frame):
    """A DataFrame as HTML; a plain row number index (0, 1, ...) is left out."""
    numbered = frame.index.names == [None] and list(frame.index) == list(range(len(frame)))
    return frame.to_html(
        border=0, float_format=_number, na_rep="–", escape=True, index=not numbered
    )


def _mapping_table(mapping):
    """A dict of numbers as a table. A dict of dicts (several classifiers, members, ...) is
    one wide table, side by side; otherwise a two-column table of (dotted key, value)."""
    if len(mapping) > 1 and all(isinstance(v, dict) for v in mapping.values()):
        return _side_by_side(mapping)
    rows = [f"<tr><th>{_text(key)}</th><td>{cell}</td></tr>" for key, cell in _rows(mapping, "")]
    return "<table>" + "".join(rows) + "</table>"


def _rows(mapping, prefix):
    """(dotted key, cell) pairs; two or more sub-dicts of one dict (a classification
    report's classes) become one table in a single cell."""
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if not isinstance(value, dict):
            yield name, _cell(value)
            continue
        nested = {k: v for k, v in value.items() if isinstance(v, dict)}
        if len(nested) > 1:
            yield name, _side_by_side(nested)
            value = {k: v for k, v in value.items() if k not in nested}
        yield from _rows(value, f"{name}.")


def _side_by_side(mapping):
    """A dict of dicts as one table: the longer side runs down, the shorter across."""
    flat = {outer: dict(_flatten(inner, "")) for outer, inner in mapping.items()}
    inner_keys = list(dict.fromkeys(k for values in flat.values() for k in values))
    across, down = (list(flat), inner_keys)
    if len(flat) > len(inner_keys):
        across, down = down, across

    def cell(row, column):
        outer, inner = (column, row) if across == list(flat) else (row, column)
        return _cell(flat[outer].get(inner))

    head = "<tr><th></th>" + "".join(f"<th>{_text(c)}</th>" for c in across) + "</tr>"
    body = "".join(
        f"<tr><th>{_text(row)}</th>" + "".join(f"<td>{cell(row, c)}</td>" for c in across) + "</tr>"
        for row in down
    )
    return f"<table>{head}{body}</table>"


def _flatten(mapping, prefix):
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _cell(value):
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return _frame_html(pd.DataFrame(value))
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        rows = "".join(
            "<tr>" + "".join(f"<td>{_value(v)}</td>" for v in row) + "</tr>" for row in value
        )
        return f"<table>{rows}</table>"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return _value(value)


def _value(value):
    if value is None:
        return "–"
    if isinstance(value, float):
        return _number(value)
    return _text(value)


def _number(value):
    """Four significant digits; a whole number (a count saved as a float) in full."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _json(value, depth=0):
    """JSON indented by level, with lists of plain values kept on one line."""
    pad, end = "  " * (depth + 1), "  " * depth
    if isinstance(value, dict) and value:
        items = [f"{pad}{_json(k)}: {_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{end}}}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [pad + _json(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + f"\n{end}]"
    return json.dumps(value, ensure_ascii=False)


def _text(value):
    return html.escape(str(value))
