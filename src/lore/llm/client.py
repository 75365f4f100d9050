"""One client for any OpenAI-compatible chat endpoint (`/v1/chat/completions`), opt-in."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ConfigError, LoreError

DEFAULT_MAX_TOKENS = 1024  # per answer; LORE_LLM_MAX_TOKENS overrides


class LLMError(LoreError):
    """The chat endpoint could not be reached or answered with something unusable."""


@dataclass(frozen=True, slots=True)
class Completion:
    """One chat answer: its text and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ChatClient:
    """Posts chat messages to an OpenAI-compatible server and returns the first choice."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        if not base_url or not model:
            raise ConfigError(
                "an LLM needs a base URL and a model",
                hint="set LORE_LLM_URL (e.g. http://127.0.0.1:8080) and LORE_LLM_MODEL",
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ConfigError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        self.max_tokens = max_tokens
        path = "/chat/completions" if self.base_url.endswith("/v1") else "/v1/chat/completions"
        self._path = path
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    @classmethod
    def from_env(cls) -> ChatClient | None:
        """The client `LORE_LLM_URL` and `LORE_LLM_MODEL` configure (key: `LORE_LLM_API_KEY`,
        answer cap: `LORE_LLM_MAX_TOKENS`); None when they are not set: every LLM step then
        takes its no-LLM path."""
        url, model = os.environ.get("LORE_LLM_URL"), os.environ.get("LORE_LLM_MODEL")
        if not url or not model:
            return None
        cap = os.environ.get("LORE_LLM_MAX_TOKENS") or str(DEFAULT_MAX_TOKENS)
        try:
            max_tokens = int(cap)
        except ValueError:
            raise ConfigError(
                f"LORE_LLM_MAX_TOKENS must be a positive integer, got {cap!r}",
                hint="unset it for the default of 1024",
            ) from None
        return cls(
            url, model, api_key=os.environ.get("LORE_LLM_API_KEY") or None, max_tokens=max_tokens
        )

    @property
    def method(self) -> str:
        """How memories this model makes are labelled (`llm:<model>`)."""
        return f"llm:{self.model}"

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int | None = None,
        json_mode: bool = True,
    ) -> Completion:
        """The model's answer to `messages` (temperature 0; JSON mode when asked; at most
        `max_tokens`, by default the client's cap)."""
        body: dict[str, Any] = {
            "model": self.model, "messages": messages, "temperature": 0,
            "max_tokens": self.max_tokens if max_tokens is None else max_tokens,
        }
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        started = time.perf_counter()
        try:
            response = self._client.post(self._path, json=body)
            response.raise_for_status()
            data = response.json()
            text = data["choices"][0]["message"]["content"] or ""
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise LLMError(f"chat endpoint {self.base_url} failed: {exc}") from exc
        usage = data.get("usage") or {}
        return Completion(
            str(text), int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0), round(time.perf_counter() - started, 3),
        )

    def close(self) -> None:
        self._client.close()
