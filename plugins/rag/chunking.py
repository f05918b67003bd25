"""Sections to chunks: a chunk never crosses a heading, carries its heading path, and a long section
is cut at paragraph (then sentence) boundaries with an overlap; device configs are cut between
top-level blocks, so a whole `interface …` or `router bgp …` block stays in one chunk."""

from __future__ import annotations

import re
from dataclasses import dataclass

from plugins.rag.extract import Document, Section

_SENTENCE = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z0-9`\"'(])")


@dataclass(frozen=True)
class Chunk:
    """A piece of a document with where it came from (lines are 1-based, configs only)."""

    ordinal: int
    heading: tuple[str, ...]
    text: str
    line_start: int | None = None
    line_end: int | None = None

    def labelled(self, title: str) -> str:
        """The text as indexed: the document title and heading path first."""
        return " > ".join((title, *self.heading)) + "\n" + self.text


def _words(text: str) -> int:
    return len(text.split())


def chunk_document(
    document: Document, max_words: int = 220, overlap_words: int = 40
) -> list[Chunk]:
    """Every chunk of a document, in reading order."""
    if document.kind == "config":
        return chunk_config(document.sections[0].text if document.sections else "", max_words)
    chunks: list[Chunk] = []
    for section in document.sections:
        lines = _hunk_lines(section.heading) if document.kind == "change" else (None, None)
        for text in _split(section, max_words, overlap_words):
            chunks.append(Chunk(len(chunks), section.heading, text, *lines))
    return chunks


def _hunk_lines(heading: tuple[str, ...]) -> tuple[int | None, int | None]:
    """The new file's lines a diff hunk covers (`@@ -a,b +c,d @@`)."""
    found = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", heading[0]) if heading else None
    if found is None:
        return None, None
    start, count = int(found.group(1)), int(found.group(2) or 1)
    return start, start + max(count, 1) - 1


def _split(section: Section, max_words: int, overlap_words: int) -> list[str]:
    if _words(section.text) <= max_words:
        return [section.text]
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", section.text):
        if _words(paragraph) <= max_words:
            pieces.append(paragraph.strip())
        else:
            pieces.extend(s.strip() for s in _SENTENCE.split(paragraph) if s.strip())
    out: list[str] = []
    current: list[str] = []
    for piece in pieces:
        for part in _hard_cut(piece, max_words):
            if current and _words(" ".join([*current, part])) > max_words:
                out.append("\n\n".join(current))
                current = _tail(current, overlap_words)
            current.append(part)
    if current:
        out.append("\n\n".join(current))
    return out


def _hard_cut(piece: str, max_words: int) -> list[str]:
    words = piece.split()
    if len(words) <= max_words:
        return [piece]
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]


def _tail(pieces: list[str], overlap_words: int) -> list[str]:
    """The last pieces of a chunk, up to `overlap_words`, to start the next one with."""
    kept: list[str] = []
    for piece in reversed(pieces):
        if _words(" ".join([piece, *kept])) > overlap_words:
            break
        kept.insert(0, piece)
    return kept


def config_blocks(text: str) -> list[tuple[int, int, str]]:
    """Top-level blocks of a config: (first line, last line, text); a block is a line at column
    0 with the indented lines under it (IOS, EOS, NX-OS) or a brace stanza (Junos); a `!` at
    column 0 and blank lines separate blocks."""
    lines = text.split("\n")
    blocks: list[tuple[int, int, str]] = []
    start: int | None = None
    depth = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        top = bool(stripped) and not line[:1].isspace() and depth == 0
        separator = depth == 0 and (not stripped or line.rstrip() in ("!", "#"))
        if start is not None and (separator or (top and not stripped.startswith("}"))):
            blocks.append((start, number - 1, "\n".join(lines[start - 1 : number - 1])))
            start = None
        if stripped and not separator and start is None:
            start = number
        depth = max(0, depth + line.count("{") - line.count("}"))
    if start is not None:
        blocks.append((start, len(lines), "\n".join(lines[start - 1 :])))
    return [(a, b, t.rstrip()) for a, b, t in blocks if t.strip()]


def chunk_config(text: str, max_words: int = 220) -> list[Chunk]:
    """Config chunks: consecutive blocks grouped up to `max_words`, a block never split unless
    it alone is longer (then it is cut between its lines, its first line repeated)."""
    chunks: list[Chunk] = []
    group: list[tuple[int, int, str]] = []

    def emit(items: list[tuple[int, int, str]]) -> None:
        if items:
            body = "\n".join(t for _, _, t in items)
            heading = _block_heading(items)
            chunks.append(Chunk(len(chunks), heading, body, items[0][0], items[-1][1]))

    for block in config_blocks(text):
        _first, _last, body = block
        if _words(body) > max_words:
            emit(group)
            group = []
            for part in _cut_block(block, max_words):
                emit([part])
            continue
        if group and _words("\n".join(t for _, _, t in [*group, block])) > max_words:
            emit(group)
            group = []
        group.append(block)
    emit(group)
    return chunks


def _block_heading(items: list[tuple[int, int, str]]) -> tuple[str, ...]:
    heads = [t.split("\n", 1)[0].strip().rstrip("{").strip() for _, _, t in items]
    if len(heads) == 1:
        return (heads[0],)
    return (f"{heads[0]} … {heads[-1]}",)


def _cut_block(block: tuple[int, int, str], max_words: int) -> list[tuple[int, int, str]]:
    first, _, body = block
    lines = body.split("\n")
    header, rest = lines[0], lines[1:]
    parts: list[tuple[int, int, str]] = []
    current: list[str] = []
    start = first + 1
    for offset, line in enumerate(rest, start=first + 1):
        if current and _words("\n".join([header, *current, line])) > max_words:
            parts.append((start, offset - 1, "\n".join([header, *current])))
            current, start = [], offset
        current.append(line)
    if current or not parts:
        parts.append((start, first + len(rest), "\n".join([header, *current])))
    return parts
