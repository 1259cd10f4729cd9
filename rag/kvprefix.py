"""A prompt prefix whose KV state is computed once, kept in memory and saved to disk.

A prompt that starts with the pinned prefix reads only the tokens after it. The saved
form is two files: ``<name>.kv`` (llama.cpp's state of sequence 0) and ``<name>.json``
(format version, model fingerprint, llama-cpp-python version, the prefix tokens and the
SHA-256 of the ``.kv`` file). Each is replaced atomically, and a saved state whose
hash, model or format does not match is never loaded: it is computed again. A saved
state for a shorter or different prefix still saves the work of the tokens they share,
so articles appended to a corpus cost only their own tokens.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1
SEQ = 0  # the sequence llama-cpp-python's high-level API uses
log = logging.getLogger(__name__)


def common_prefix(a, b) -> int:
    """Length of the shared start: ``([1, 2, 3], [1, 2, 4]) -> 2``."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class PinReport:
    tokens: int = 0  # length of the prefix
    loaded: int = 0  # tokens whose state came from the saved file
    computed: int = 0  # tokens read by the model now
    saved: bool = False
    seconds: float = 0.0
    state_mb: float = 0.0
    problem: str = ""  # why a saved state was not used

    def describe(self) -> str:
        parts = [f"{self.tokens} tokens", f"{self.loaded} loaded", f"{self.computed} computed"]
        parts += [f"{self.state_mb:.0f} MB state", f"{self.seconds:.1f} s"] + (
            ["saved"] if self.saved else []
        )
        return ", ".join(parts) + (f" ({self.problem})" if self.problem else "")


class PrefixCache:
    """The pinned prefix of one loaded ``llama_cpp.Llama``; call under its generation lock."""

    def __init__(self, llm, fingerprint: str):
        self.llm, self.fingerprint = llm, fingerprint
        self.tokens: list[int] = []
        self._snapshot = None  # ctypes buffer holding the sequence state after ``tokens``

    # -- in memory -------------------------------------------------------------------

    def pin(self, tokens: list[int], store: Path | None = None, progress: bool = False) -> PinReport:
        """Make ``tokens`` the cached prefix: load what the saved state shares, compute the rest.

        Pinning the prefix already pinned costs nothing.
        """
        started = time.perf_counter()
        report = PinReport(tokens=len(tokens))
        if tokens == self.tokens:
            return report
        if store is not None:
            report.loaded, report.problem = self._load(store, tokens)
        self.restore(tokens)
        shared = common_prefix(self.llm._input_ids.tolist(), tokens)
        report.loaded = min(report.loaded, shared)
        report.computed = len(tokens) - shared
        self._extend(tokens, shared, progress)
        self.tokens = list(tokens)
        self._snapshot = self._get()
        report.state_mb = len(self._snapshot) / 1e6
        if store is not None and report.computed:
            self._save(store)
            report.saved = True
        report.seconds = time.perf_counter() - started
        return report

    def forget(self) -> None:
        """Drop the pinned prefix and empty the KV cache, so the next pin starts from nothing."""
        self.tokens, self._snapshot = [], None
        self.llm.reset()
        self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)

    def restore(self, prompt: list[int]) -> int:
        """Put the pinned state back when ``prompt`` starts with the prefix; the tokens reusable."""
        llm = self.llm
        n = len(self.tokens)
        if n and prompt[:n] == self.tokens and common_prefix(llm._input_ids.tolist(), self.tokens) < n:
            self._set(self._snapshot, self.tokens)
        return min(common_prefix(llm._input_ids.tolist(), prompt), len(prompt) - 1)

    def _extend(self, tokens: list[int], shared: int, progress: bool) -> None:
        """Read ``tokens[shared:]`` after the shared start, in batches, with a progress bar."""
        from tqdm import tqdm

        llm = self.llm
        llm._ctx.kv_cache_seq_rm(-1, shared, -1)
        llm.n_tokens = shared
        rest = tokens[shared:]
        step = llm.n_batch
        with tqdm(total=len(rest), desc="reading the articles", unit="tok", disable=not progress) as bar:
            for i in range(0, len(rest), step):
                llm.eval(rest[i : i + step])
                bar.update(len(rest[i : i + step]))

    def _get(self):
        ctx = self.llm.ctx
        size = self.llm_state_size()
        buffer = (ctypes.c_uint8 * size)()
        written = self._lib().llama_state_seq_get_data(ctx, buffer, size, SEQ)
        return (ctypes.c_uint8 * written).from_buffer_copy(buffer) if written != size else buffer

    def llm_state_size(self) -> int:
        return int(self._lib().llama_state_seq_get_size(self.llm.ctx, SEQ))

    def _set(self, buffer, tokens: list[int]) -> bool:
        llm = self.llm
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        if not self._lib().llama_state_seq_set_data(llm.ctx, buffer, len(buffer), SEQ):
            llm.n_tokens = 0
            return False
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        return True

    @staticmethod
    def _lib():
        import llama_cpp

        return llama_cpp

    # -- on disk ----------------------------------------------------------------------

    def _meta(self) -> dict:
        return {"format": FORMAT_VERSION, "model": self.fingerprint, "llama_cpp": self._lib().__version__}

    def _load(self, store: Path, wanted: list[int]) -> tuple[int, str]:
        """Load the saved state when it is intact and shares a start with ``wanted``: (tokens, problem)."""
        kv, meta_path = store.with_suffix(".kv"), store.with_suffix(".json")
        if not meta_path.is_file():
            return 0, "no saved state"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            data = kv.read_bytes()
        except (OSError, ValueError) as e:
            return 0, f"saved state unreadable ({e})"
        if {k: meta.get(k) for k in self._meta()} != self._meta():
            return 0, "saved state is for another model or format"
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            log.warning("The saved prefix state %s is corrupt (hash mismatch); computing it again", kv)
            return 0, "saved state is corrupt (hash mismatch)"
        tokens = [int(t) for t in meta.get("tokens", [])]
        if not common_prefix(tokens, wanted):
            return 0, "saved state is for another prefix"
        if not self._set((ctypes.c_uint8 * len(data)).from_buffer_copy(data), tokens):
            return 0, "llama.cpp refused the saved state"
        return len(tokens), ""

    def _save(self, store: Path) -> None:
        data = bytes(self._snapshot)
        meta = self._meta() | {"tokens": self.tokens, "sha256": hashlib.sha256(data).hexdigest()}
        store.parent.mkdir(parents=True, exist_ok=True)
        for path, payload in (
            (store.with_suffix(".kv"), data),
            (store.with_suffix(".json"), json.dumps(meta)),
        ):
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(payload if isinstance(payload, bytes) else payload.encode())
            os.replace(tmp, path)
