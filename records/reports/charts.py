"""A report's charts (matplotlib, drawn off screen), as PNG for the HTML page and the PDF made from it.

Six charts, each the period against the one before: cases by channel, by product, by risk grade, by nature, how
long acknowledging, answering and closing took, and satisfaction scores (with the target rate). Figures are made
with matplotlib's object API (no pyplot), so no global figure state is shared between threads and nothing needs a
display.

Chinese needs a font that has it: the first one ``fc-list :lang=zh`` finds is used, and titles then carry both
languages. Without one (a bare server) the charts are in English only, rather than showing empty boxes.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from handoff import labels
from records.reports.analysis import GRADES, SCORES, STAGES, Progress, Report, counts
from records.reports.formats import STAGE_NAMES, section_names

CURRENT, PREVIOUS = "#1f5fa8", "#b9c6d8"
GRADE_COLOURS = {"high": "#c0392b", "medium": "#e08a1e", "low": "#2e8b57"}
SIZE = (8.0, 4.5)
DPI = 110


@lru_cache(maxsize=1)
def chinese_font() -> str | None:
    """The family name of a font that draws Chinese, registered with matplotlib; None if the machine has none."""
    try:
        found = subprocess.run(["fc-list", "--format", "%{file}\n", ":lang=zh"], capture_output=True, text=True,
                               timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for path in sorted(line.strip() for line in found.splitlines()):
        if not path.lower().endswith((".ttf", ".otf", ".ttc")):
            continue
        try:
            font_manager.fontManager.addfont(path)
            return str(font_manager.FontProperties(fname=path).get_name())
        except (OSError, RuntimeError, ValueError):
            continue
    return None


@contextmanager
def _style() -> Iterator[None]:
    family = chinese_font()
    fonts = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    with rc_context({"font.family": "sans-serif", "font.sans-serif": fonts, "axes.unicode_minus": False,
                     "pdf.fonttype": 42, "axes.spines.top": False, "axes.spines.right": False}):
        yield


def _title(english: str, chinese: str) -> str:
    return f"{english} · {chinese}" if chinese_font() else english


def _period_names(report: Report) -> tuple[str, str]:
    return report.period.label, report.previous_period.label


def _tick(names: labels.Names | None, key: str) -> str:
    if names is None:
        return key
    english = labels.name(names, key)
    chinese = labels.name(names, key, "zh") if chinese_font() else english
    return english if chinese == english else f"{english}\n{chinese}"


def _bars(ax: Axes, rows: list[dict[str, Any]], report: Report, names: labels.Names | None = None, *,
          horizontal: bool = False, colours: list[str] | None = None, unit: str = "cases") -> None:
    """Grouped bars: this period's count beside the previous period's, for each key."""
    keys = [_tick(names, row["key"]) for row in rows]
    now = [row["current"] for row in rows]
    before = [row["previous"] for row in rows]
    positions = list(range(len(keys)))
    width = 0.4
    draw = ax.barh if horizontal else ax.bar
    current, previous = _period_names(report)
    # The current period first: left of the previous one, or above it once the y axis reads top-down.
    draw([p - width / 2 for p in positions], now, width, label=current, color=colours or CURRENT)
    draw([p + width / 2 for p in positions], before, width, label=previous, color=PREVIOUS)
    if horizontal:
        ax.set_yticks(positions, keys)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
    else:
        ax.set_xticks(positions, keys)
        ax.set_ylabel(unit)
    ax.legend(frameon=False)


def _figure() -> Figure:
    return Figure(figsize=SIZE, dpi=DPI, layout="constrained")


def channel_chart(report: Report) -> Figure:
    figure = _figure()
    ax = figure.add_subplot()
    _bars(ax, counts(report.current.by_channel, report.previous.by_channel), report,
          section_names(report, "by_channel"))
    ax.set_title(_title("Cases by channel", "按渠道"))
    return figure


def product_chart(report: Report) -> Figure:
    figure = _figure()
    ax = figure.add_subplot()
    _bars(ax, counts(report.current.by_product, report.previous.by_product), report, labels.PRODUCTS,
          horizontal=True)
    ax.set_title(_title("Cases by product (cause)", "按业务（投诉原因）"))
    return figure


def risk_chart(report: Report) -> Figure:
    figure = _figure()
    ax = figure.add_subplot()
    rows = counts(report.current.by_grade, report.previous.by_grade, GRADES)
    _bars(ax, rows, report, labels.GRADES, colours=[GRADE_COLOURS.get(row["key"], CURRENT) for row in rows])
    ax.set_title(_title("Cases by risk grade", "按风险等级"))
    return figure


def nature_chart(report: Report) -> Figure:
    figure = _figure()
    ax = figure.add_subplot()
    _bars(ax, counts(report.current.by_nature, report.previous.by_nature, tuple(labels.NATURES)), report,
          labels.NATURES)
    ax.set_title(_title("Cases by nature", "按投诉性质"))
    return figure


def handling_chart(report: Report) -> Figure:
    """For each stage, how many cases took how long (log scale: most take hours, a few take weeks)."""
    figure = Figure(figsize=(SIZE[0] * 1.4, SIZE[1]), dpi=DPI, layout="constrained")
    axes = figure.subplots(1, len(STAGES), sharey=False)
    for ax, stage in zip(axes, STAGES, strict=True):
        timing = report.current.timings[stage]
        english, chinese = STAGE_NAMES[stage]
        if not timing.hours:
            ax.text(0.5, 0.5, "no cases", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(_title(english, chinese))
            continue
        low, high = max(min(timing.hours), 0.05), max(max(timing.hours), 0.1)
        edges = [low * (high / low) ** (i / 30) for i in range(31)] if high > low else [low * 0.9, high * 1.1]
        ax.hist([max(h, low) for h in timing.hours], bins=edges, color=CURRENT)
        ax.set_xscale("log")
        ax.axvline(timing.median or 0, color="black", linewidth=1.2, label=f"median {timing.median:.1f} h")
        ax.axvline(timing.p90 or 0, color="black", linestyle="--", linewidth=1.2, label=f"p90 {timing.p90:.1f} h")
        ax.set_xlabel("hours from receipt")
        ax.set_title(_title(english, chinese) + f" (n={timing.count:,})")
        ax.legend(frameon=False, fontsize="small")
    axes[0].set_ylabel("cases")
    figure.suptitle(_title(f"Handling times, {report.period.label}", "处理时长"))
    return figure


def satisfaction_chart(report: Report) -> Figure:
    figure = _figure()
    ax = figure.add_subplot()
    now, before = report.current.satisfaction, report.previous.satisfaction
    rows = [{"key": str(s), "current": now.scores[s], "previous": before.scores[s]} for s in SCORES]
    _bars(ax, rows, report, unit="answers")
    ax.set_xlabel("score (1 = very dissatisfied, 5 = very satisfied)")
    mean = f"mean {now.mean:.2f}" if now.mean is not None else "no answers"
    rate = f"{now.rate:.0%} satisfied, target {report.target:.0%}" if now.rate is not None else "no rate"
    ax.set_title(_title(f"Satisfaction ({mean}, {rate}, {now.count:,} answers)", "满意度"))
    return figure


CHARTS: dict[str, Callable[[Report], Figure]] = {
    "channel": channel_chart, "product": product_chart, "risk": risk_chart, "nature": nature_chart,
    "handling": handling_chart, "satisfaction": satisfaction_chart,
}


def figures(report: Report, progress: Progress | None = None) -> Iterator[tuple[str, Figure]]:
    for done, (name, draw) in enumerate(CHARTS.items(), start=1):
        if progress:
            progress(f"drawing chart {done}/{len(CHARTS)}: {name}")
        yield name, draw(report)


def png_charts(report: Report, progress: Progress | None = None) -> dict[str, bytes]:
    """Each chart as PNG bytes, by name; none when neither period has a case."""
    charts: dict[str, bytes] = {}
    if report.empty:
        return charts
    with _style():
        for name, figure in figures(report, progress):
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            charts[name] = buffer.getvalue()
    return charts
