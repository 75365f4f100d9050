"""Optional LLM steps: an OpenAI-compatible chat client and validated structured output."""

from __future__ import annotations

from .client import ChatClient, Completion, LLMError
from .structured import Extraction, SessionOut, extract_session, validate

__all__ = [
    "ChatClient",
    "Completion",
    "Extraction",
    "LLMError",
    "SessionOut",
    "extract_session",
    "validate",
]
