"""Documents to text with their structure: Markdown, plain text, HTML, PDF and man pages become a
title and sections, each section with its heading path, so chunks keep their headings and answers
can cite "document > section"."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal, cast

from genosd.plugin import InvalidRequestError

Kind = Literal["markdown", "text", "html", "pdf", "man", "config", "change"]
SUFFIXES: dict[str, Kind] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".log": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".cfg": "config",
    ".conf": "config",
}
MAN_SUFFIX = re.compile(r"\.[1-9][a-z]*$")


class ExtractError(InvalidRequestError):
    """A file that cannot be read as the kind of document it claims to be."""


@dataclass(frozen=True)
class Section:
    """Text under one heading path (the document's title is not repeated in it)."""

    heading: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Document:
    """A document's title, kind and sections, in reading order."""

    title: str
    kind: Kind
    sections: list[Section]

    @property
    def text(self) -> str:
        """Everything, for hashing and length checks."""
        return "\n\n".join(s.text for s in self.sections)


def kind_of(name: str, data: bytes) -> Kind:
    """The kind of a file from its name, else from its first bytes."""
    suffix = PurePath(name).suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if MAN_SUFFIX.search(name) or data.lstrip().startswith((b".TH", b'.\\"')):
        return "man"
    head = data[:512].lstrip().lower()
    if head.startswith(b"%pdf"):
        return "pdf"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


def extract(name: str, data: bytes, kind: Kind | None = None) -> Document:
    """The document in `data` (named `name`); ExtractError saying why it cannot be read."""
    kind = kind or kind_of(name, data)
    if kind == "pdf":
        return _pdf(name, data)
    text = _decode(name, data)
    if not text.strip():
        raise ExtractError(f"{name}: the file has no text")
    parsers = {
        "markdown": _markdown,
        "html": _html,
        "man": _man,
        "text": _text,
        "config": _config,
        "change": _change,
    }
    document = parsers[kind](name, text)
    if not any(s.text.strip() for s in document.sections):
        raise ExtractError(f"{name}: no text found in this {kind} file")
    return document


def _decode(name: str, data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise ExtractError(f"{name}: a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # old man pages and vendor notes; never fails
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _stem(name: str) -> str:
    return PurePath(name).stem


def _markdown(name: str, text: str) -> Document:
    from markdown_it import MarkdownIt

    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").parse(text)
    headings: list[tuple[int, int, int, str]] = []  # (first line, end line, level, text)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            inline = tokens[index + 1].content.strip()
            headings.append((token.map[0], token.map[1], int(token.tag[1]), inline))
    title = next((h[3] for h in headings if h[2] == 1), "") or _stem(name)
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    start, current = 0, cast(tuple[str, ...], ())
    for first, end, level, heading in [*headings, (len(lines), len(lines), 0, "")]:
        body = "\n".join(lines[start:first]).strip()
        if body:
            sections.append(Section(current, body))
        if level == 0:
            break
        path = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
        current = tuple(h for lv, h in path if not (lv == 1 and h == title))
        start = end
    return Document(title, "markdown", sections)


def _text(name: str, text: str) -> Document:
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    title = first if 0 < len(first) <= 80 else _stem(name)
    return Document(title, "text", [Section((), text.strip())])


def _config(name: str, text: str) -> Document:
    return Document(_stem(name), "config", [Section((), text.strip("\n"))])


def _change(name: str, text: str) -> Document:
    """A config change: one section per diff hunk, each starting with the change's description
    (message, author, commit), so every chunk says what changed, when, by whom and why."""
    head, _, diff = text.partition("\n--- ")
    head = head.strip()
    sections = []
    for hunk in re.split(r"\n(?=@@ )", "--- " + diff if diff else ""):
        if hunk.startswith("@@ "):
            title, _, body = hunk.partition("\n")
            sections.append(Section((title.strip(),), f"{head}\n\n{body.rstrip()}".strip()))
    return Document(_stem(name), "change", sections or [Section(("change",), head)])


_SKIP_HTML = ("script", "style", "nav", "header", "footer", "noscript", "template", "svg", "form")
_BLOCKS = {"p", "div", "li", "pre", "tr", "blockquote", "dd", "dt", "section", "article", "table"}


def _html(name: str, text: str) -> Document:
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError(f"{name}: not readable HTML: {exc}") from None
    for element in root.iter(*_SKIP_HTML):
        element.drop_tree()
    title_element = root.find(".//title")
    page_title = (title_element.text_content().strip() if title_element is not None else "") or ""
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    parts: list[str] = []
    title = ""

    def flush() -> None:
        body = re.sub(r"[ \t]+", " ", "".join(parts))
        body = re.sub(r"\n\s*\n+", "\n\n", body).strip()
        if body:
            sections.append(Section(tuple(h for _, h in path), body))
        parts.clear()

    body_element = root.find("body")
    for event, element in etree.iterwalk(
        body_element if body_element is not None else root, events=("start", "end")
    ):
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start" and re.fullmatch(r"h[1-6]", tag):
            flush()
            level, heading = int(tag[1]), " ".join(element.text_content().split())
            if level == 1 and not title:
                title = heading
                path = []
            else:
                path = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
            continue
        if re.fullmatch(r"h[1-6]", tag):
            if event == "end" and element.tail:
                parts.append(element.tail)
            continue
        if _inside_heading(element):
            continue
        if event == "start":
            if tag == "li":
                parts.append("\n- ")
            elif tag in _BLOCKS or tag == "br":
                parts.append("\n")
            if element.text:
                parts.append(element.text)
        else:
            if tag in _BLOCKS:
                parts.append("\n")
            if element.tail:
                parts.append(element.tail)
    flush()
    return Document(title or page_title or _stem(name), "html", sections)


def _inside_heading(element: object) -> bool:
    parent = getattr(element, "getparent", lambda: None)()
    while parent is not None:
        if isinstance(parent.tag, str) and re.fullmatch(r"h[1-6]", parent.tag):
            return True
        parent = parent.getparent()
    return False


_ROFF_FONT = re.compile(r"\\f(?:[BIRPC]|\(..|\[[^\]]*\])")
_ROFF_ESCAPES = {
    r"\-": "-",
    r"\(em": "\u2014",
    r"\(en": "\u2013",
    r"\e": "\\",
    r"\&": "",
    r"\ ": " ",
}


def _roff_text(line: str) -> str:
    line = _ROFF_FONT.sub("", line)
    for escape, value in _ROFF_ESCAPES.items():
        line = line.replace(escape, value)
    return line


def _roff_args(rest: str) -> list[str]:
    return [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', rest)]


def _man(name: str, text: str) -> Document:
    title = _stem(name)
    sections: list[Section] = []
    heading: tuple[str, ...] = ()
    parts: list[str] = []

    def flush() -> None:
        body = re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip()
        if body:
            sections.append(Section(heading, body))
        parts.clear()

    for raw in text.split("\n"):
        if raw.startswith(('.\\"', "'\\\"")):
            continue
        if not raw.startswith((".", "'")):
            parts.append(_roff_text(raw) + "\n")
            continue
        macro, _, rest = raw[1:].partition(" ")
        args = _roff_args(rest)
        if macro == "TH" and args:
            title = args[0].lower() + (f"({args[1]})" if len(args) > 1 else "")
        elif macro in ("SH", "SS"):
            flush()
            label = _roff_text(" ".join(args)).strip().title()
            heading = (label,) if macro == "SH" else ((*heading[:1], label))
        elif macro in ("B", "I", "SM", "SB"):
            parts.append(_roff_text(" ".join(args)) + " ")
        elif macro in ("BR", "IR", "RB", "RI", "BI", "IB"):
            parts.append(_roff_text("".join(args)) + " ")
        elif macro in ("PP", "LP", "P", "TP", "IP", "HP", "sp", "br"):
            parts.append("\n")
            if macro == "IP" and args:
                parts.append(_roff_text(args[0]) + " ")
    flush()
    return Document(title, "man", sections)


def _pdf(name: str, data: bytes) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractError(f"{name}: the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except ExtractError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractError(f"{name}: not a readable PDF: {exc}") from None
    sections = [
        Section((f"page {number}",), text.strip())
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]
    if not sections:
        raise ExtractError(f"{name}: the PDF has no extractable text (scanned images?)")
    return Document(meta_title.strip() or _stem(name), "pdf", sections)
