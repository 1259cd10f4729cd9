"""Generators: chat messages in, text out (streamed or whole)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

Messages = list[dict[str, str]]


class Generator:
    """Implement ``_stream``; ``stream`` and ``generate`` fill a caller-owned stats dict.

    ``stats`` receives prompt_tokens, completion_tokens, ttft_ms and decode_ms.
    """

    name: str = "generator"

    def stream(self, messages: Messages, max_tokens: int = 256, stats: dict | None = None) -> Iterator[str]:
        stats = {} if stats is None else stats
        started = time.perf_counter()
        first = None
        pieces = 0
        for piece in self._stream(messages, max_tokens, stats):
            if first is None:
                first = time.perf_counter()
                stats["ttft_ms"] = (first - started) * 1000
            pieces += 1
            yield piece
        stats.setdefault("completion_tokens", pieces)
        stats["decode_ms"] = (time.perf_counter() - (first or started)) * 1000

    def generate(self, messages: Messages, max_tokens: int = 256, stats: dict | None = None) -> str:
        return "".join(self.stream(messages, max_tokens, stats))

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _stream(self, messages: Messages, max_tokens: int, stats: dict) -> Iterator[str]:
        raise NotImplementedError


_LOADED: dict[tuple, object] = {}
_LOAD_LOCK = threading.Lock()


class LlamaGenerator(Generator):
    """A GGUF model through llama-cpp-python: loaded once per process, one generation at a time."""

    def __init__(self, path: Path, name: str, *, n_threads: int, n_ctx: int, seed: int = 0):
        self.path, self.name = Path(path), name
        self.n_threads, self.n_ctx, self.seed = n_threads, n_ctx, seed

    def _loaded(self) -> tuple[object, threading.Lock]:
        """The process-wide model for this file and its generation lock."""
        key = (str(self.path), self.n_threads, self.n_ctx)
        with _LOAD_LOCK:
            if key not in _LOADED:
                from llama_cpp import Llama

                model = Llama(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    n_batch=512,
                    seed=self.seed,
                    verbose=False,
                )
                _LOADED[key] = (model, threading.Lock())
            return _LOADED[key]

    def count_tokens(self, text: str) -> int:
        return len(self._loaded()[0].tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _stream(self, messages: Messages, max_tokens: int, stats: dict) -> Iterator[str]:
        llm, lock = self._loaded()
        with lock:
            llm.set_seed(self.seed)
            chunks = llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=0.0,
                top_k=1,
                seed=self.seed,
                stream=True,
            )
            generated = 0
            for chunk in chunks:
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    generated += 1
                    yield text
            stats["completion_tokens"] = generated
            stats["prompt_tokens"] = max(0, llm.n_tokens - generated)
