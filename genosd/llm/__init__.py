"""The LLM layer: Ollama and OpenAI-compatible servers behind one interface, models routed per
task kind with fallbacks, redaction before anything leaves the process, trimming to a stated
cap, structured answers validated (one repair attempt), usage accounting and a response cache.

Everything a model answers is untrusted input: callers validate it against a schema and treat a
missing, late or malformed answer as "unavailable", never as a pass.
"""

from genosd.llm.layer import LlmLayer, Result
from genosd.llm.types import KINDS, Kind, LlmUnavailable, Message, ProviderError, Reply, Usage

__all__ = [
    "KINDS",
    "Kind",
    "LlmLayer",
    "LlmUnavailable",
    "Message",
    "ProviderError",
    "Reply",
    "Result",
    "Usage",
]
