"""Server-rendered SVG bar charts for the sales reports.

The geometry is computed here and drawn by ``admin/sales/reports/_chart.html`` with
SVG presentation attributes (``x``, ``width``, ``fill``...) and classes of our
stylesheet: no script and no inline ``style``, so the strict CSP
(``default-src 'self'``) holds. A chart is drawn next to the table with the same
figures, which stays the accessible reading (the SVG has a title and ``role="img"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 640
LABEL_WIDTH = 190
VALUE_WIDTH = 110
BAR_HEIGHT = 14
GAP = 10
MAX_ROWS = 40  # a chart is a picture: the table holds every row
# One colour per series (presentation attributes; the legend repeats them).
COLOURS = ("#2f6fb0", "#e39b2d", "#4f9a5e", "#b0413e", "#7a5ea8")


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    fill: str
    text: str  # the value, written after the bar
    text_x: int


@dataclass(frozen=True)
class ChartRow:
    label: str
    label_y: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    label_width: int
    rows: tuple[ChartRow, ...]
    legend: tuple[tuple[str, str], ...]  # (series name, colour)
    cut: int  # rows left out of the picture (still in the table)

    @property
    def empty(self) -> bool:
        return not self.rows


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, Sequence[Decimal | float | int | None]]],
    series: Sequence[str],
    fmt: Callable[[object], str] = str,
) -> Chart:
    """Horizontal bars, one group per row, one bar per series, on one scale (the
    largest value fills the width; negative values draw as zero-width bars)."""
    shown = list(rows)[:MAX_ROWS]
    values = [float(v) for _label, vs in shown for v in vs if v is not None]
    top = max([v for v in values if v > 0], default=0.0)
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    group = BAR_HEIGHT * len(series) + GAP
    out = []
    for index, (label, vs) in enumerate(shown):
        y0 = GAP + index * group
        bars = []
        for number, value in enumerate(vs):
            amount = float(value) if value is not None else 0.0
            width = int(round(area * amount / top)) if top and amount > 0 else 0
            y = y0 + number * BAR_HEIGHT
            bars.append(
                Bar(
                    x=LABEL_WIDTH,
                    y=y,
                    width=width,
                    height=BAR_HEIGHT - 2,
                    fill=COLOURS[number % len(COLOURS)],
                    text="" if value is None else fmt(value),
                    text_x=LABEL_WIDTH + width + 4,
                )
            )
        out.append(ChartRow(label=label[:40], label_y=y0 + (BAR_HEIGHT * len(series)) // 2 + 4, bars=tuple(bars)))
    height = GAP + len(shown) * group + GAP
    return Chart(
        title=title,
        width=WIDTH,
        height=height,
        label_width=LABEL_WIDTH,
        rows=tuple(out),
        legend=tuple((name, COLOURS[i % len(COLOURS)]) for i, name in enumerate(series)),
        cut=max(0, len(rows) - MAX_ROWS),
    )
