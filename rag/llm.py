"""Generators: chat messages in, text out (streamed or whole)."""

from __future__ import annotations

import ctypes
import io
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .decode import Drafter, TextPieces, greedy
from .kvprefix import PinReport, PrefixCache, common_prefix

log = logging.getLogger(__name__)
Messages = list[dict[str, str]]
LLAMA_LOG_ERROR = 4  # GGML_LOG_LEVEL_ERROR in ggml.h (llama-cpp-python's _logger names the older numbering)
JUDGE_CTX = 2048  # the claim check's context: a claim and its one or two quoted sentences


class Generator:
    """Implement ``_stream``; ``stream`` and ``generate`` fill a caller-owned stats dict.

    ``stats`` receives prompt_tokens (tokens read for this answer), cached_tokens (reused
    from a cached prefix), completion_tokens, ttft_ms, decode_ms (the model's own time after
    the first token) and paused_ms (the time generation waited while its reader, such as
    the claim checks, held the stream between tokens); the in-process model adds passes
    (forward passes after the prompt's: fewer than tokens when drafts are kept, see
    ``rag.decode``). ``pin`` is optional: a backend without a prefix cache reads every
    prompt in full.
    """

    name: str = "generator"
    lazy: bool = True  # decodes only while read (a model server decodes ahead, into its socket)

    def stream(self, messages: Messages, max_tokens: int = 256, stats: dict | None = None) -> Iterator[str]:
        stats = {} if stats is None else stats
        started = time.perf_counter()
        first = None
        pieces = 0
        paused = 0.0  # a lazy generator decodes nothing while the reader holds a piece
        try:
            for piece in self._stream(messages, max_tokens, stats):
                if first is None:
                    first = time.perf_counter()
                    stats["ttft_ms"] = (first - started) * 1000
                pieces += 1
                handed = time.perf_counter()
                yield piece
                paused += time.perf_counter() - handed
        finally:  # also when the caller stops reading early
            stats.setdefault("completion_tokens", pieces)
            stats["decode_ms"] = (time.perf_counter() - (first or started) - paused * self.lazy) * 1000
            stats["paused_ms"] = paused * 1000

    def generate(self, messages: Messages, max_tokens: int = 256, stats: dict | None = None) -> str:
        return "".join(self.stream(messages, max_tokens, stats))

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def load(self, judge: bool = True) -> None:
        """Load the model now (with the judge's context too, given ``judge``), rather than on
        first use; nothing to do for a backend that loads nothing here."""

    def pin(self, prefix: Messages, store: Path | None = None, progress: bool = False) -> PinReport | None:
        """Keep the state after ``prefix`` (leading messages) for prompts that start with it."""
        return None

    def judge(self, messages: Messages) -> float | None:
        """P(yes) against P(no) for the reply's first word, from the logits; None if unsupported."""
        return None

    def _stream(self, messages: Messages, max_tokens: int, stats: dict) -> Iterator[str]:
        raise NotImplementedError


_LOADED: dict[tuple, object] = {}
_LOAD_LOCK = threading.Lock()


def _llama(**params):
    """``Llama(**params)``, quiet without silencing the process. Quiet the llama-cpp-python way
    (``verbose=False``) points the process's stdout and stderr at /dev/null while it loads, so
    what other threads print meanwhile is lost (an index build's progress: 131 of 146 lines).
    Here llama.cpp's log goes to ``_log``, and the constructor's own prints, from this thread
    only, go nowhere."""
    from llama_cpp import Llama

    _log()
    stderr = sys.stderr
    sys.stderr = muted = _Muted(stderr, threading.current_thread())
    try:
        model = Llama(**params, verbose=True)
    finally:
        if sys.stderr is muted:
            sys.stderr = stderr
    model.verbose = False  # no timings printed after each generation
    return model


@cache
def _log():
    """Send llama.cpp's errors to this module's logger and drop the rest of its log (the
    callback is kept alive by the cache)."""
    import llama_cpp

    @llama_cpp.llama_log_callback
    def to_logger(level, text, user_data):
        if level == LLAMA_LOG_ERROR:
            log.warning("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

    llama_cpp.llama_log_set(to_logger, ctypes.c_void_p(0))
    return to_logger


class _Muted(io.TextIOBase):
    """A text stream that drops what one thread writes and passes on the rest."""

    def __init__(self, stream, thread: threading.Thread):
        self.stream, self.thread = stream, thread

    def write(self, text: str) -> int:
        return len(text) if threading.current_thread() is self.thread else self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


class LlamaGenerator(Generator):
    """A GGUF model through llama-cpp-python: loaded once per process, one generation at a time.

    Prompts are rendered with the model's own chat template. One prefix of leading
    messages can be pinned (``pin``): its KV state is restored whenever a prompt starts
    with it, so only the rest of the prompt is read.
    """

    def __init__(
        self,
        path: Path,
        name: str,
        *,
        n_threads: int,
        n_ctx: int,
        seed: int = 0,
        fingerprint="",
        draft_tokens=0,
    ):
        self.path, self.name = Path(path), name
        self.n_threads, self.n_ctx, self.seed = n_threads, n_ctx, seed
        self.draft_tokens = draft_tokens  # prompt-lookup draft per step (rag.decode); 0: plain greedy
        self.fingerprint = fingerprint or f"{self.path.name}:{self.path.stat().st_size}"

    def _loaded(self, role: str = "answer") -> _Loaded:
        """The process-wide model for this file, context size and ``role``, its lock and its
        prefix cache.

        Answers use a context of ``n_ctx``; the claim check ("judge") uses a small one of its
        own (JUDGE_CTX), so it can run while an answer is being written without touching it,
        even when both sizes are equal. The weights are memory-mapped, so a second context
        costs its KV cache, not a copy.
        """
        n_ctx = JUDGE_CTX if role == "judge" else self.n_ctx
        key = (str(self.path), self.n_threads, n_ctx, role)
        with _LOAD_LOCK:
            if key not in _LOADED:
                model = _llama(
                    model_path=str(self.path),
                    n_ctx=n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    n_batch=512,
                    seed=self.seed,
                )
                _LOADED[key] = _Loaded(model, threading.Lock(), PrefixCache(model, self.fingerprint))
            return _LOADED[key]

    def load(self, judge: bool = True) -> None:
        self._loaded()
        if judge:
            self._loaded("judge")

    def count_tokens(self, text: str) -> int:
        return len(self._loaded().llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def tokens(self, messages: Messages, generation_prompt: bool = True) -> tuple[list[int], list[str]]:
        """The prompt tokens of ``messages`` in the model's chat format, and its stop strings."""
        loaded = self._loaded()
        rendered = loaded.formatter(generation_prompt)(messages=messages)
        tokens = loaded.llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=loaded.add_bos, special=True)
        stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop] if rendered.stop else []
        return tokens, stop

    def pin(self, prefix: Messages, store: Path | None = None, progress: bool = False) -> PinReport:
        tokens, _ = self.tokens(prefix, generation_prompt=False)
        loaded = self._loaded()
        with loaded.lock:
            return loaded.prefix.pin(tokens, store, progress)

    def judge(self, messages: Messages) -> float | None:
        """Read the prompt in the judge's own context and compare the logits of "yes" and "no"
        as the reply's first token; None when the prompt does not fit that context."""
        import numpy as np

        loaded = self._loaded("judge")
        tokens, _ = self.tokens(messages)
        if len(tokens) >= JUDGE_CTX:
            return None
        with loaded.lock:
            llm = loaded.llm
            shared = min(common_prefix(llm._input_ids.tolist(), tokens), len(tokens) - 1)
            llm._ctx.kv_cache_seq_rm(-1, shared, -1)  # what the last check shares with this one stays
            llm.n_tokens = shared
            llm.eval(tokens[shared:])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            yes, no = (max(logits[t] for t in loaded.answer_tokens(w)) for w in ("yes", "no"))
        return float(1 / (1 + np.exp(no - yes)))

    def unpin(self) -> None:
        loaded = self._loaded()
        with loaded.lock:
            loaded.prefix.forget()

    def _stream(self, messages: Messages, max_tokens: int, stats: dict) -> Iterator[str]:
        loaded = self._loaded()
        tokens, stop = self.tokens(messages)
        with loaded.lock:
            llm = loaded.llm
            cached = loaded.prefix.restore(tokens)
            stats["cached_tokens"] = cached
            stats["prompt_tokens"] = len(tokens) - cached
            stats["completion_tokens"] = 0
            text = TextPieces(llm, tokens, stop)
            drafter = Drafter(tokens, size=self.draft_tokens)
            for token in greedy(llm, tokens, cached, max_tokens, drafter, stats):
                stats["completion_tokens"] += 1
                if piece := text.add(token):
                    yield piece
                if text.stopped:
                    return
            if piece := text.rest():
                yield piece


@dataclass
class _Loaded:
    llm: object
    lock: threading.Lock
    prefix: PrefixCache
    _formatters: dict = field(default_factory=dict)

    def answer_tokens(self, word: str) -> set[int]:
        """First tokens of ``word`` as a reply may begin: "yes", "Yes", " yes"."""
        variants = (word, word.capitalize(), " " + word, " " + word.capitalize())
        return {self.llm.tokenize(v.encode(), add_bos=False, special=False)[0] for v in variants}

    @property
    def add_bos(self) -> bool:
        return bool(self.llm._model.add_bos_token())

    def formatter(self, generation_prompt: bool):
        """The model's chat template (ChatML when the file has none) as a prompt formatter."""
        if generation_prompt not in self._formatters:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = self.llm
            template = llm.metadata.get("tokenizer.chat_template") or CHATML
            token = llm._model.token_get_text
            self._formatters[generation_prompt] = Jinja2ChatFormatter(
                template,
                eos_token=token(llm.token_eos()),
                bos_token=token(llm.token_bos()) if llm.token_bos() >= 0 else "",
                add_generation_prompt=generation_prompt,
                stop_token_ids=[llm.token_eos()],
            )
        return self._formatters[generation_prompt]


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
