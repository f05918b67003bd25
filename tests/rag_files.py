"""For the knowledge-base tests: a real PDF made on the fly, and a knowledge base in a folder."""

from __future__ import annotations

from pathlib import Path

from plugins.rag.catalog import Catalog
from plugins.rag.dense import StaticEmbedder
from plugins.rag.index import open_index
from plugins.rag.ingest import KnowledgeBase
from plugins.rag.settings import RagSettings


def pdf_with_pages(pages: list[list[str]], title: str = "") -> bytes:
    """A valid PDF (Helvetica text, one line per string) with a correct cross-reference table."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * n for n in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    info_id = font_id + 1
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for page_id, lines in zip(page_ids, pages, strict=True):
        text = "".join(
            f"BT /F1 11 Tf 72 {740 - 16 * n} Td ({_escape(line)}) Tj ET\n"
            for n, line in enumerate(lines)
        ).encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {page_id + 1} 0 R"
            f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(text) + text + b"endstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({_escape(title)}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def offline_kb(folder: Path) -> KnowledgeBase:
    """A knowledge base in `folder` as the plugin makes one by default (Qdrant Edge, the offline
    embedder), with no redaction."""
    return KnowledgeBase(
        RagSettings(),
        Catalog(folder / "rag.sqlite3"),
        open_index("kb", 256, folder),
        StaticEmbedder(),
        str,
    )
