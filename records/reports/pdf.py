"""HTML to PDF for the documents people file: the register (记录表) and the complaint analysis.

One path for both: the page is written as HTML (bilingual, every text escaped) and WeasyPrint lays it out as
A4 pages with their numbers, Chinese in a CJK font that fontconfig finds (WenQuanYi Micro Hei, which .ci/run
installs, or Noto Sans CJK / Source Han Sans where a machine has those), so the PDF's text is real text a
reader can search and copy (``pdftotext`` gives it back), not shapes drawn by a charting library.

Guarantees: nothing is fetched while rendering (only ``data:`` URLs, for the charts embedded as PNG: a
customer's words can never make the renderer reach out), and renders run one at a time (a layout holds the
fonts' state).
"""

from __future__ import annotations

import threading
from typing import Any

FONTS = ('"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Microsoft YaHei", '
         '"PingFang SC", "DejaVu Sans", sans-serif')
_LOCK = threading.Lock()


def css_string(text: str) -> str:
    """``text`` as a CSS string literal (for generated content such as a page footer)."""
    escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\' or ord(ch) < 0x20 else ch for ch in text)
    return f'"{escaped}"'


def page_style(footer: str = "", landscape: bool = False) -> str:
    """A4 pages with the page number (and ``footer``, e.g. a SHA-256) at the foot of each, in a CJK font."""
    size = "A4 landscape" if landscape else "A4"
    return (
        f"@page {{ size: {size}; margin: 16mm 14mm 18mm;"
        f" @bottom-left {{ content: {css_string(footer)}; font-size: 7pt; color: #5a6575; font-family: {FONTS}; }}"
        " @bottom-right { content: \"第 \" counter(page) \" 页，共 \" counter(pages) \" 页 · page \" counter(page)"
        f" \" of \" counter(pages); font-size: 7.5pt; color: #5a6575; font-family: {FONTS}; }} }}\n"
        f"html, body {{ font-family: {FONTS}; }}\n"
        "body { margin: 0; max-width: none; font-size: 9.5pt; }\n"
        "figure, tr { break-inside: avoid; } h1, h2, h3 { break-after: avoid; }\n"
        "img { max-width: 100%; } table { width: 100%; }\n"
    )


def html_to_pdf(html: str, *, footer: str = "", landscape: bool = False) -> bytes:
    """The page as a PDF's bytes; call it in a worker thread (``asyncio.to_thread``): a long one takes seconds."""
    import weasyprint  # loaded only when a PDF is made

    document = weasyprint.HTML(string=html, url_fetcher=_data_only(), base_url=None)
    stylesheet = weasyprint.CSS(string=page_style(footer, landscape))
    with _LOCK:
        pdf: Any = document.write_pdf(stylesheets=[stylesheet])
    return bytes(pdf)


def _data_only() -> Any:
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, timeout=1)
