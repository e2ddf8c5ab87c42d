"""HTML bodies as text lines: scripts and styles dropped, blockquotes as ``>`` lines, quote containers marked."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

# ----------------------------------------------------------------------------------------- HTML text

_HARD_CUT = "\x00cut\x00"  # an Outlook-style container: everything after it is history
_SOFT_CUT = "\x00quote\x00"  # a client's quote container: treated like an attribution line
_BLOCKS = frozenset({
    "address", "article", "aside", "caption", "center", "dd", "details", "dialog", "dir", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "legend", "main", "menu", "nav", "ol",
    "section", "summary", "table", "tbody", "tfoot", "thead", "ul"})
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "hr"})
_SKIPPED = frozenset({"script", "style", "title", "noscript", "template", "svg", "object", "iframe", "select",
                      "textarea"})
_HARD_IDS = ("divrplyfwdmsg", "stopspelling", "olk_src_body_section", "appendonsend", "zwchr",
             "mail-editor-reference-message-container")
_SOFT_CLASSES = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted")
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0]+")


class _HtmlText(HTMLParser):
    """A small HTML-to-text converter: block structure kept as lines, blockquotes as ``>`` prefixes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._buf: list[str] = []
        self._skip = 0
        self._head = False
        self._quote = 0
        self._pre = 0
        self._link: tuple[str, int, int] | None = None  # href, where its text starts in _buf, line count

    def _emit(self, text: str) -> None:
        prefix = "> " * self._quote
        line = (prefix + text).rstrip() if text else prefix.rstrip()
        if not line and (not self.lines or not self.lines[-1]):
            return
        self.lines.append(line)

    def _flush(self, force: bool = False) -> None:
        text = "".join(self._buf)
        self._buf.clear()
        text = text.rstrip() if self._pre else _SPACES.sub(" ", text).strip()
        if text or force:
            self._emit(text)

    def _paragraph(self) -> None:
        self._flush()
        if self.lines and self.lines[-1] and not self._quote:
            self.lines.append("")

    def _marker(self, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v or "").lower() for k, v in attrs if k in ("id", "class")}
        element_id = values.get("id", "").removeprefix("x_")
        classes = values.get("class", "").split()
        if element_id in _HARD_IDS or "outlookmessageheader" in classes:
            self._flush()
            self.lines.append(_HARD_CUT)
        elif any(c.removeprefix("x_") in _SOFT_CLASSES for c in classes):
            self._flush()
            self.lines.append(_SOFT_CUT)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
            return
        if tag == "head":
            self._head = True
        elif tag == "body":
            self._head = False
        if self._skip or self._head:
            return
        if attrs:
            self._marker(attrs)
        if tag == "br":
            self._flush(force=True)
        elif tag in _PARAGRAPHS:
            self._paragraph()
        elif tag in _BLOCKS:
            self._flush()
        elif tag == "blockquote":
            self._flush()
            self._quote += 1
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag == "li":
            self._flush()
            self._buf.append("- ")
        elif tag == "tr":
            self._flush()
        elif tag in ("td", "th"):
            self._buf.append(" ")
        elif tag == "a":
            href = next((v for k, v in attrs if k == "href" and v), "").strip()
            self._link = (href, len(self._buf), len(self.lines)) if href.startswith(("http:", "https:")) else None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIPPED:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
            return
        if tag == "head":
            self._head = False
        if self._skip or self._head:
            return
        if tag == "a" and self._link is not None:
            self._close_link(*self._link)
        elif tag == "br":  # browsers read a stray </br> as <br>
            self._flush(force=True)
        elif tag in _PARAGRAPHS:
            self._paragraph()
        elif tag in _BLOCKS or tag in ("tr", "li"):
            self._flush()
        elif tag == "blockquote":
            self._flush()
            self._quote = max(0, self._quote - 1)
        elif tag == "pre":
            self._flush()
            self._pre = max(0, self._pre - 1)

    def _close_link(self, href: str, start: int, lines: int) -> None:
        """Show where a link goes when its text does not: "click here" alone loses what the customer sent."""
        self._link = None
        if lines == len(self.lines) and start <= len(self._buf):
            label = "".join("".join(self._buf[start:]).split())
            if label and href not in label and label not in href:
                self._buf.append(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if self._skip or self._head:
            return
        data = data.replace("\x00", "")
        if not self._pre:
            self._buf.append(data)
            return
        pieces = data.split("\n")
        self._buf.append(pieces[0])
        for piece in pieces[1:]:
            self._flush(force=True)
            self._buf.append(piece)

    def unknown_decl(self, data: str) -> None:
        return

    def result(self) -> list[str]:
        self._flush()
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return self.lines


_TAG = re.compile(r"<[^>]*>")


def _html_lines(html: str) -> list[str]:
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
        return parser.result()
    except Exception:  # html.parser has had assertion bugs on hostile markup; strip tags instead
        return [_SPACES.sub(" ", line).strip() for line in unescape(_TAG.sub("\n", html)).split("\n")]


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: scripts, styles and head dropped, blockquotes as ``>`` lines."""
    return "\n".join(line for line in _html_lines(html) if line not in (_HARD_CUT, _SOFT_CUT)).strip()
