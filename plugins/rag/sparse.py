"""Sparse BM25 vectors: no model, works on a fresh machine. Terms are lower-cased, stemmed words
and whole network tokens (`10.0.0.1`, `gigabitethernet0/1`, `%bgp-5-adjchange` and its parts);
a document's weights are BM25's saturated term frequencies, the IDF is applied by Qdrant at query
time (the collection's sparse vector has the IDF modifier), so adding documents never rewrites
older vectors."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_TOKEN = re.compile(r"[a-z0-9]+(?:[./:_-][a-z0-9]+)*")
_PARTS = re.compile(r"[./:_-]")
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)
K1 = 1.2
B = 0.75


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def terms(text: str) -> list[str]:
    """The index terms of a text, in order (repeats kept: they are the term frequencies)."""
    out: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if _PARTS.search(token):
            out.append(token)  # the whole address, interface or log tag
            out.extend(_stem(p) for p in _PARTS.split(token) if p and p not in STOPWORDS)
        elif token not in STOPWORDS:
            out.append(_stem(token))
    return out


def term_id(term: str) -> int:
    """A stable 32-bit id for a term (Qdrant's sparse indices are u32)."""
    return zlib.crc32(term.encode())


@dataclass(frozen=True)
class SparseVector:
    """Indices and values, as Qdrant takes them."""

    indices: list[int]
    values: list[float]


def document_vector(text: str, average_length: float = 120.0) -> SparseVector:
    """BM25 term weights of a chunk (tf saturated by k1, normalised by length with b)."""
    counts = Counter(terms(text))
    length = sum(counts.values()) or 1
    norm = K1 * (1 - B + B * length / average_length)
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        index = term_id(term)
        weights[index] = weights.get(index, 0.0) + tf * (K1 + 1) / (tf + norm)
    return SparseVector(list(weights), [round(v, 5) for v in weights.values()])


def query_vector(text: str) -> SparseVector:
    """A query's terms, each once (their weight is the IDF Qdrant applies)."""
    unique = sorted({term_id(t) for t in terms(text)})
    return SparseVector(unique, [1.0] * len(unique))
