"""A local question-answering assistant that cites verbatim quotes from your articles.

``from rag import ask`` is cheap: models and the index load on the first question.
"""

from __future__ import annotations

import threading

from .schema import Answer, Chunk, Citation, Document, Evidence, Hit, Source

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Document",
    "Evidence",
    "Hit",
    "Source",
    "ask",
    "ask_stream",
    "default_pipeline",
]

_default = None
_default_lock = threading.Lock()


def default_pipeline():
    """The process-wide pipeline built from ``Settings.from_env()``."""
    global _default
    with _default_lock:
        if _default is None:
            from .pipeline import Pipeline

            _default = Pipeline()
        return _default


def ask(question: str, *, history=None, model: str | None = None, k: int | None = None) -> Answer:
    """Answer ``question`` from the indexed articles, with verified quoted citations."""
    return default_pipeline().ask(question, history=history, model=model, k=k)


def ask_stream(question: str, *, history=None, model: str | None = None, k: int | None = None):
    """Like ``ask`` but yields text pieces as they are generated, then the final ``Answer``."""
    yield from default_pipeline().ask_stream(question, history=history, model=model, k=k)
