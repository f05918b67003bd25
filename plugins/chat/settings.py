"""plugins.chat in genosd.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ChatSettings(BaseModel):
    """How conversations are kept, bounded and summarised."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        None, description="this model for every chat turn (default: the `chat` route of llm)"
    )
    context_tokens: dict[str, int] = Field(
        default_factory=lambda: {"default": 8192},
        description="the context window per model name (or `default`): older turns are "
        "summarised when a conversation would fill more than `summarise_at` of it",
    )
    summarise_at: float = Field(0.6, gt=0.1, le=0.95)
    keep_turns: int = Field(
        3, ge=1, le=50, description="the newest turns always sent in full, never summarised"
    )
    max_tool_calls: int = Field(8, ge=0, le=50, description="per answer (an agent may set less)")
    max_tokens: int = Field(4096, ge=64, le=200_000, description="output tokens per answer")
    max_message_chars: int = Field(8000, ge=100, le=200_000)
    sessions_per_user: int = Field(500, ge=1, le=100_000, description="the oldest go first")
    retention_days: float = Field(
        0, ge=0, description="delete conversations idle this long (0: keep them)"
    )

    def window(self, model: str | None) -> int:
        """The context window, in tokens, of `model`."""
        if model:
            for name in (model, model.split(":")[0]):
                if name in self.context_tokens:
                    return self.context_tokens[name]
        return self.context_tokens.get("default", 8192)
