"""The LLM edge: an Ollama client built from settings, its failures translated to LlmUnavailable.

Everything an LLM answers is untrusted input: callers validate it against a schema and treat a
missing, late or malformed answer as "unavailable", never as a pass.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
import ollama
from pydantic import BaseModel, ValidationError

from genosd.errors import GenosdError
from genosd.settings_sections import LlmSettings

Answer = TypeVar("Answer", bound=BaseModel)


class LlmUnavailable(GenosdError):
    """No model is configured, or the model did not give a usable answer."""


async def structured_chat(
    settings: LlmSettings,
    model: str,
    messages: list[dict[str, str]],
    answer: type[Answer],
) -> Answer:
    """Ask for a JSON answer in `answer`'s schema; LlmUnavailable for anything but a valid one."""
    if settings.url is None:
        raise LlmUnavailable("no LLM is configured (llm.url)")
    client = ollama.AsyncClient(host=settings.url, timeout=settings.timeout, trust_env=False)
    try:
        response = await client.chat(
            model=model,
            messages=messages,
            format=answer.model_json_schema(),
            options={"temperature": 0},
            stream=False,
        )
    except ollama.ResponseError as exc:
        raise LlmUnavailable(
            f"the LLM server refused: HTTP {exc.status_code}: {exc.error}"[:300]
        ) from None
    except httpx.TimeoutException:
        raise LlmUnavailable(f"no answer within {settings.timeout:g} s") from None
    except (httpx.HTTPError, ConnectionError) as exc:
        raise LlmUnavailable(f"cannot reach the LLM server: {type(exc).__name__}") from None
    except (ValidationError, ValueError, TypeError, KeyError) as exc:
        # the reply was not Ollama's chat shape (or not JSON at all)
        raise LlmUnavailable(f"malformed reply from the LLM server: {type(exc).__name__}") from None
    finally:
        await client.close()
    content: Any = response.message.content or ""
    try:
        return answer.model_validate_json(content)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(answer)"
        raise LlmUnavailable(
            f"the answer does not match the schema: {where}: {first['msg']}"
        ) from None
