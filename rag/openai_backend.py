"""A generator served by any OpenAI-compatible ``/v1/chat/completions`` endpoint.

llama.cpp's server, vLLM, Ollama or a hosted API: the model runs elsewhere, so
answers can run in parallel (``Settings.max_parallel``). Requests are greedy
(temperature 0) with the configured seed, and always streamed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .chunking import approx_tokens
from .config import Settings
from .llm import Generator, Messages
from .models import ModelError


class ModelServerError(ModelError):
    """The model server is unreachable or refused the request; the message says which and what to check."""


class OpenAIGenerator(Generator):
    """Model ``name`` as the server at ``url`` knows it (``RAG_LLM_MODEL``)."""

    lazy = False

    def __init__(self, url: str, name: str, *, api_key: str | None, seed: int = 0, timeout: float = 300):
        self.url, self.name = url.rstrip("/"), name
        self.api_key, self.seed, self.timeout = api_key, seed, timeout
        self._client = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, name: str) -> OpenAIGenerator:
        return cls(
            settings.llm_url,
            name,
            api_key=settings.llm_api_key,
            seed=settings.seed,
            timeout=settings.llm_timeout,
        )

    @property
    def client(self):
        """One thread-safe client (and connection pool) for every request."""
        with self._lock:
            if self._client is None:
                from openai import OpenAI

                # a server without keys ignores the header; the client insists on some key
                self._client = OpenAI(
                    base_url=self.url, api_key=self.api_key or "none", timeout=self.timeout, max_retries=1
                )
            return self._client

    def count_tokens(self, text: str) -> int:
        """Approximate: the OpenAI API has no tokenizer endpoint."""
        return approx_tokens(text)

    def _stream(self, messages: Messages, max_tokens: int, stats: dict) -> Iterator[str]:
        import openai

        pieces = 0
        try:
            chunks = self.client.chat.completions.create(
                model=self.name,
                messages=messages,
                max_tokens=max_tokens,
                temperature=0.0,
                seed=self.seed,
                stream=True,
                stream_options={"include_usage": True},  # servers that lack it ignore it
            )
            for chunk in chunks:
                if chunk.usage is not None:
                    stats["prompt_tokens"] = chunk.usage.prompt_tokens
                    stats["completion_tokens"] = chunk.usage.completion_tokens
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    pieces += 1
                    yield text
        except openai.APIStatusError as e:
            raise ModelServerError(
                f"The model server at {self.url} refused the request: {e.message}. "
                "Check RAG_LLM_MODEL (the name the server knows the model by) and RAG_LLM_API_KEY."
            ) from e
        except openai.APIError as e:  # connection refused, timeout, a broken stream
            raise ModelServerError(
                f"The model server at {self.url} did not answer ({type(e).__name__}: {e}). "
                "Is it running, and is RAG_LLM_URL right (it usually ends in /v1)?"
            ) from e
        stats.setdefault("completion_tokens", pieces)  # one piece per token on llama.cpp's server
        stats.setdefault("prompt_tokens", sum(approx_tokens(m["content"]) for m in messages))
