"""A complaint analysis (``records.reports.analysis``) as a file: JSON, CSV, HTML or PDF, the charts drawn in.

Apart from the analysis so that the formats and the charts, which read a ``Report``, are not read by it in turn;
matplotlib is loaded only when a report is drawn.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from records.reports.analysis import (
    FORMATS,
    SATISFACTION_TARGET,
    FileFormat,
    Format,
    Progress,
    Report,
    build_report,
)


def render(report: Report, fmt: Format, progress: Progress | None = None) -> bytes:
    """The report as a file's bytes. Drawing charts takes a while: call it in a worker thread (``render_async``)."""
    from records.reports import charts, formats  # matplotlib is loaded only when a report is drawn

    if fmt == "json":
        return formats.to_json(report)
    if fmt == "csv":
        return formats.to_csv(report)
    if fmt == "html":
        return formats.to_html(report, charts.png_charts(report, progress))
    if fmt == "pdf":
        return formats.to_pdf(report, charts.png_charts(report, progress))
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")


async def render_async(report: Report, fmt: Format, progress: Progress | None = None) -> bytes:
    return await asyncio.to_thread(render, report, fmt, progress)


def default_filename(report: Report, fmt: Format) -> str:
    return f"complaints-{report.period.label.replace('..', '_to_')}.{fmt}"


async def write_report(
    url: str, period: str | tuple[date, date], fmt: FileFormat, out: Path, progress: Progress | None = None,
    *, zone: str = "UTC", target: float = SATISFACTION_TARGET, unit_names: dict[str, tuple[str, str]] | None = None,
    channel_names: dict[str, tuple[str, str]] | None = None,
) -> Path:
    """Build the report from the record at ``url`` and write it to ``out`` (a file, or a folder to put it in)."""
    report = await build_report(url, period, zone=zone, progress=progress, target=target, unit_names=unit_names,
                                channel_names=channel_names)
    content = await render_async(report, fmt, progress)
    written = await asyncio.to_thread(_save, out, default_filename(report, fmt), content)
    if progress is not None:
        progress(f"wrote {written} ({len(content):,} bytes)")
    return written


def _save(out: Path, name: str, content: bytes) -> Path:
    target = out / name if out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return target
