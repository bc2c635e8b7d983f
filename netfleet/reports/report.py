"""`Report`: sections of text, figures, tables and numbers, written as a folder that holds a
self-contained `report.html`, the PNG figures and `results.json` (every number shown, the
exact configuration and the package versions). `rerender` makes the page again from a
folder's saved results, without retraining.

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> report = Report("Example", config={"seed": 0})
    >>> section = report.section("Scores")
    >>> section.numbers("test", {"accuracy": 0.9})
    >>> section.table("runs", pd.DataFrame({"loss": [0.3, 0.2]}))
    >>> folder = report.write(pathlib.Path(tempfile.mkdtemp()) / "report")
    >>> sorted(path.name for path in folder.iterdir())
    ['report.html', 'results.json']
"""

import datetime
import json
import re
from pathlib import Path

from netfleet.errors import InvalidArgumentError
from netfleet.reports import folder as folders
from netfleet.reports.data import frame_to_data, to_data
from netfleet.reports.environment import versions
from netfleet.reports.figures import png_bytes
from netfleet.reports.html import render

HTML = "report.html"
VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Report:
    """A report being put together, section by section.

    Args:
        title: The page title.
        summary: A paragraph under the title. Defaults to none.
        config: The exact settings the results came from (JSON-able). Defaults to `{}`.
    """

    def __init__(self, title, *, summary="", config=None):
        self.title = title
        self.summary = summary
        self.config = to_data(config or {})
        self.sections = []
        self.numbers = {}
        self.tables = {}
        self.images = {}

    def section(self, title):
        """Start a new section; its blocks appear in the order they are added."""
        section = Section(self, title)
        self.sections.append(section)
        return section

    def document(self):
        """The report as JSON data (what `results.json` holds, less the write time)."""
        return {
            "format": folders.FORMAT,
            "version": VERSION,
            "title": self.title,
            "summary": self.summary,
            "config": self.config,
            "sections": [{"title": s.title, "blocks": s.blocks} for s in self.sections],
            "numbers": self.numbers,
            "tables": self.tables,
        }

    def write(self, folder):
        """Write the report folder atomically (see `netfleet.reports.folder`).

        Returns:
            The folder's absolute `Path`.
        """
        document = {
            **self.document(),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "versions": versions(),
        }

        def fill(path):
            for file, data in self.images.items():
                (path / file).write_bytes(data)
            text = json.dumps(document, indent=1, allow_nan=False)
            (path / folders.RESULTS).write_text(text + "\n", encoding="utf-8")
            (path / HTML).write_text(render(document, self.images), encoding="utf-8")

        return folders.write_folder(folder, fill)

    def _claim(self, name, taken):
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidArgumentError(
                f"A report item name must be letters, digits, '_', '.' or '-'. Got {name!r}."
            )
        if name in taken:
            raise InvalidArgumentError(f"This report already has an item named {name!r}.")
        return name


class Section:
    """One titled part of a report (made by `Report.section`)."""

    def __init__(self, report, title):
        self.report = report
        self.title = title
        self.blocks = []

    def text(self, text):
        """A paragraph."""
        self.blocks.append({"kind": "text", "text": str(text)})

    def figure(self, name, figure, caption=None):
        """A matplotlib figure, saved as `name.png` and embedded in the page."""
        file = self.report._claim(name, {f.removesuffix(".png") for f in self.report.images})
        file = f"{file}.png"
        self.report.images[file] = png_bytes(figure)
        self.blocks.append({"kind": "figure", "name": name, "file": file, "caption": caption})

    def table(self, name, frame, caption=None):
        """A DataFrame, shown as an HTML table and saved under `tables[name]`."""
        self.report.tables[self.report._claim(name, self.report.tables)] = frame_to_data(frame)
        self.blocks.append({"kind": "table", "name": name, "caption": caption})

    def numbers(self, name, values, caption=None):
        """A dict of numbers (nested dicts and lists allowed), shown as a table and saved
        under `numbers[name]`."""
        self.report.numbers[self.report._claim(name, self.report.numbers)] = to_data(values)
        self.blocks.append({"kind": "numbers", "name": name, "caption": caption})


def load(folder):
    """A report folder's saved results (`results.json` as a dict)."""
    folder = Path(folder)
    if not folders.is_report(folder):
        raise InvalidArgumentError(
            f"{str(folder)!r} is not a netfleet report folder (no results.json written by a "
            "netfleet report)."
        )
    document = json.loads((folder / folders.RESULTS).read_text(encoding="utf-8"))
    if document.get("version", 0) > VERSION:
        raise InvalidArgumentError(
            f"{str(folder)!r} was written by a newer netfleet (report version "
            f"{document['version']}; this one reads up to {VERSION})."
        )
    return document


def rerender(folder):
    """Write `report.html` again from the folder's `results.json` and PNG figures, without
    retraining anything.

    Returns:
        The page's `Path`.
    """
    folder = Path(folder)
    document = load(folder)
    files = [
        block["file"]
        for section in document["sections"]
        for block in section["blocks"]
        if block["kind"] == "figure"
    ]
    missing = [file for file in files if not (folder / file).is_file()]
    if missing:
        raise InvalidArgumentError(
            f"{str(folder)!r} lacks the figure files {', '.join(missing)}: the report cannot "
            "be rendered again without them."
        )
    images = {file: (folder / file).read_bytes() for file in files}
    page = folder / HTML
    folders.write_file(page, render(document, images).encode("utf-8"))
    return page
