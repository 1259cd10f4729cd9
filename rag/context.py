"""What the model reads for a question: the whole corpus as a cached prefix, or retrieved evidence.

``select_context(settings, index, generator)`` picks the strategy: ``settings.context`` is
``corpus``, ``evidence`` or ``auto`` (the corpus when its prompt fits
``settings.corpus_tokens``). Both answer ``prompt(question, history, retrieval)`` with the
messages and the numbered units the model may name as ``[n]`` (articles or passages); the
pipeline does not know which strategy answered.

In corpus mode the system message holds every article and is the same for every question:
its KV state is computed once, saved in the index generation beside the manifest
(``prefix-<model>.kv`` and ``.json``) and loaded by the next process. The retriever still
runs in both modes: its hits feed attribution and the relevance signal.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from . import prompts
from .config import Settings
from .injection import without_orders
from .kvprefix import PinReport
from .llm import Generator
from .schema import Document, Evidence

MODES = ("auto", "corpus", "evidence")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, str]]
    units: list[Evidence]  # what the model's [n] refers to
    mode: str


def byline(doc: Document) -> str:
    """``"Reuters, 2025-06-28"``; ``"undated"`` when neither is known."""
    parts = [doc.outlet, doc.published.isoformat() if doc.published else None]
    return ", ".join(p for p in parts if p) or "undated"


class EvidenceContext:
    """The retrieved evidence passages, numbered, after a fixed system prompt."""

    mode = "evidence"

    def __init__(self, generator: Generator):
        self.generator = generator

    def prepare(self, progress: bool = False) -> PinReport | None:
        return self.generator.pin([{"role": "system", "content": prompts.system_prompt()}])

    def prompt(self, question: str, history: list[dict], retrieval) -> Prompt:
        messages = prompts.evidence_messages(question, retrieval.evidence, history)
        return Prompt(messages, list(retrieval.evidence), self.mode)


class CorpusContext:
    """Every article, numbered, in a system message whose KV state is cached and saved."""

    mode = "corpus"

    def __init__(self, documents: list[Document], generator: Generator, store: Path | None):
        self.generator, self.store = generator, store
        self.units = [Evidence(n, d.doc_id, d.text, 0, len(d.text)) for n, d in enumerate(documents, 1)]
        self.system = prompts.corpus_system(
            [prompts.article_block(n, byline(d), without_orders(d.text)) for n, d in enumerate(documents, 1)]
        )
        self.report: PinReport | None = None

    def prepare(self, progress: bool = False) -> PinReport | None:
        """Pin the corpus prefix: computed or loaded the first time (the first question's wait, or
        the app's start), afterwards free unless another corpus was pinned meanwhile."""
        report = self.generator.pin([self.system], self.store, progress)
        if report is not None and (report.loaded or report.computed):
            self.report = report
            log.info("Corpus prefix ready: %s", report.describe())
        return report

    def prompt(self, question: str, history: list[dict], retrieval) -> Prompt:
        self.prepare()
        return Prompt(prompts.corpus_messages(self.system, question, history), self.units, self.mode)


def select_context(settings: Settings, index, generator: Generator) -> EvidenceContext | CorpusContext:
    """The strategy for this corpus and these settings (see the module docstring)."""
    if settings.context not in MODES:
        raise ValueError(f"Unknown context mode {settings.context!r}: use one of {', '.join(MODES)}")
    if settings.context == "evidence":
        return EvidenceContext(generator)
    documents = list(index.documents.values())
    corpus = CorpusContext(documents, generator, _store(index, generator))
    if settings.context == "corpus":
        return corpus
    tokens = generator.count_tokens(corpus.system["content"])
    if tokens <= settings.corpus_tokens:
        return corpus
    log.info(
        "The corpus takes %d tokens, over corpus_tokens=%d: answering from evidence",
        tokens,
        settings.corpus_tokens,
    )
    return EvidenceContext(generator)


def _store(index, generator: Generator) -> Path | None:
    """Where the prefix state of this generator lives: in the index's own generation."""
    fingerprint = getattr(generator, "fingerprint", "")
    if not fingerprint or index.generation is None:
        return None
    return index.generation / f"prefix-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"
