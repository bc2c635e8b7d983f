"""Figures drawn off-screen: matplotlib `Figure` objects without pyplot, saved as PNG bytes.

No global pyplot state is touched (no backend switch, no `plt.show`), so reports can be made
from scripts, tests and servers alike.
"""

import io
import textwrap


def new_figure(rows=1, columns=1, *, size=(6.4, 4.8), squeeze=True):
    """A new off-screen figure and its axes (as `plt.subplots` returns them).

    Args:
        rows: Rows of axes. Defaults to `1`.
        columns: Columns of axes. Defaults to `1`.
        size: Width and height in inches. Defaults to `(6.4, 4.8)`.
        squeeze: Return a single Axes for a 1 x 1 grid. Defaults to `True`.

    Returns:
        `(figure, axes)`.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=squeeze)
    return figure, axes


def empty_figure(size=(6.4, 4.8)):
    """A new off-screen figure without axes, for plots that lay out their own."""
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def png_bytes(figure, dpi=100):
    """The figure rendered as a PNG file's bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def set_title(ax, text, **options):
    """`ax.set_title`, with a title too long for the axes' width wrapped onto more lines
    (a classifier's name can be a whole configuration)."""
    from matplotlib.font_manager import FontProperties

    size = FontProperties(size=options.get("fontsize", "large")).get_size_in_points()
    width = ax.get_position().width * ax.figure.get_figwidth() * 72
    characters = max(int(width / (0.55 * size)), 20)
    return ax.set_title(textwrap.fill(text, characters), **options)
