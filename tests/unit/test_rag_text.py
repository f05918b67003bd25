"""Documents to sections, chunks and BM25 terms: headings kept, configs cut between blocks, bad
files refused with the reason."""

from __future__ import annotations

import itertools

import pytest

from plugins.rag.chunking import chunk_config, chunk_document
from plugins.rag.extract import Document, ExtractError, Section, extract
from plugins.rag.sparse import document_vector, query_vector, term_id, terms
from tests.rag_files import pdf_with_pages

MARKDOWN = """# Core design

Intro text.

## Routing

OSPF everywhere.

```
# not a heading: a comment in a code block
router ospf 1
```

### Timers

Hello 10, dead 40.

Setext heading
--------------

Under the setext heading.
"""


def test_markdown_sections_carry_their_heading_path():
    document = extract("design.md", MARKDOWN.encode())
    assert document.title == "Core design" and document.kind == "markdown"
    assert [s.heading for s in document.sections] == [
        (),
        ("Routing",),
        ("Routing", "Timers"),
        ("Setext heading",),
    ]
    routing = document.sections[1].text
    assert "# not a heading" in routing and "router ospf 1" in routing


def test_html_drops_scripts_and_navigation_and_keeps_headings():
    html = b"""<html><head><title>T</title><script>var x = "secret code";</script></head>
    <body><nav>Home | Wiki</nav><h1>WAN</h1><p>Intro <b>bold</b> words.</p>
    <h2>QoS <small>v2</small></h2><ul><li>EF voice</li><li>AF41 video</li></ul>
    <footer>copyright</footer></body></html>"""
    document = extract("wan.html", html)
    assert document.title == "WAN"
    assert [s.heading for s in document.sections] == [(), ("QoS v2",)]
    assert document.sections[0].text == "Intro bold words."
    assert "- EF voice" in document.sections[1].text and "v2" not in document.sections[1].text
    assert "secret code" not in document.text and "Home" not in document.text


def test_man_pages_pdfs_and_refusals():
    man = b'.TH PING 8 "2026" "iputils"\n.SH NAME\nping \\- send ICMP\n.SH OPTIONS\n.TP\n.B \\-c\nCount.\n'
    document = extract("ping.8", man)
    assert document.title == "ping(8)"
    assert [s.heading for s in document.sections] == [("Name",), ("Options",)]
    assert document.sections[0].text == "ping - send ICMP" and "-c" in document.sections[1].text

    pdf = pdf_with_pages(
        [["BGP (border) runbook", "Check the hold timer"], ["Page two text"]], "Runbook"
    )
    document = extract("runbook.pdf", pdf)
    assert document.title == "Runbook" and document.kind == "pdf"
    assert [s.heading for s in document.sections] == [("page 1",), ("page 2",)]
    assert "Check the hold timer" in document.sections[0].text

    with pytest.raises(ExtractError, match="not a readable PDF"):
        extract("broken.pdf", b"%PDF-1.4\nnonsense")
    with pytest.raises(ExtractError, match="binary file"):
        extract("image.txt", b"\x89PNG\x00\x00\x01")
    with pytest.raises(ExtractError, match="no text"):
        extract("empty.md", b"  \n\n")
    assert extract("legacy.txt", "caf\xe9 notes".encode("latin-1")).sections[0].text == "café notes"


def test_long_sections_are_cut_with_overlap_and_never_across_headings():
    sentences = [f"Sentence number {n} talks about BGP timers." for n in range(60)]
    document = Document(
        "Doc", "markdown", [Section(("A",), " ".join(sentences)), Section(("B",), "Short.")]
    )
    chunks = chunk_document(document, max_words=60, overlap_words=15)
    assert {c.heading for c in chunks} == {("A",), ("B",)}
    a_chunks = [c for c in chunks if c.heading == ("A",)]
    assert len(a_chunks) > 4 and all(len(c.text.split()) <= 60 for c in a_chunks)
    for first, second in itertools.pairwise(a_chunks):
        assert first.text.split("\n\n")[-1] in second.text  # the overlap
    joined = " ".join(c.text for c in a_chunks)
    assert all(s in joined for s in sentences)
    assert chunks[-1].text == "Short." and chunks[-1].labelled("Doc") == "Doc > B\nShort."


def test_config_chunks_keep_blocks_whole_and_know_their_lines():
    lines = ["hostname r1", "!"]
    for n in range(1, 8):
        lines += [f"interface GigabitEthernet0/{n}", f" description port {n}", " shutdown", "!"]
    lines += [
        "router bgp 65010",
        " neighbor 10.0.0.2 remote-as 65020",
        " !",
        " address-family ipv4",
    ]
    lines += ["  network 10.0.0.0 mask 255.255.255.0", " exit-address-family", "!"]
    text = "\n".join(lines)
    chunks = chunk_config(text, max_words=20)
    assert all(c.line_start and c.line_end for c in chunks)
    for chunk in chunks:
        body = text.split("\n")[chunk.line_start - 1 : chunk.line_end]
        assert chunk.text == "\n".join(line for line in body if line != "!")
    bgp = next(c for c in chunks if "router bgp" in c.text)
    assert "exit-address-family" in bgp.text and "network 10.0.0.0" in bgp.text
    assert all(c.text.count("interface ") == c.text.count(" shutdown") for c in chunks)
    huge = "interface Gi0/1\n" + "\n".join(f" ip helper-address 10.0.0.{n}" for n in range(50))
    parts = chunk_config(huge, max_words=30)
    assert len(parts) > 1 and all(p.text.startswith("interface Gi0/1\n") for p in parts)


def test_network_terms_and_bm25_weights():
    found = terms("%BGP-5-ADJCHANGE on GigabitEthernet0/1 to 10.0.0.1: the sessions were flapping")
    assert "%bgp-5-adjchange" not in found and "bgp-5-adjchange" in found
    assert {"bgp", "adjchang", "gigabitethernet0/1", "10.0.0.1", "session", "flap"} <= set(found)
    assert "the" not in found and "were" not in found
    once, many = document_vector("flapping"), document_vector("flapping " * 20)
    assert many.values[0] > once.values[0] and many.values[0] < 2.2 * once.values[0]  # saturates
    query = query_vector("flapping flap sessions")
    assert query.indices == sorted({term_id("flap"), term_id("session")})
