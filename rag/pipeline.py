"""The question-answering pipeline: retrieve evidence, generate, check citations."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from . import prompts
from .answer import abstained, build_answer, chosen_passage, is_abstention
from .config import Settings
from .embedder import Embedder
from .llm import Generator
from .schema import Answer, Document, Evidence

MAX_QUESTION_CHARS = 2000
REWRITE_TOKENS = 64
CHOICE_TOKENS = 4  # the choose step replies with a passage number
HOLD_CHARS = 40  # streamed text is held back until it cannot be the start of an abstention
ABSTAIN_OPENINGS = (
    "the sources",
    "the passages",
    "the articles",
    "i cannot",
    "i can't",
    "there is no",
    "none of",
)
log = logging.getLogger(__name__)


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise ValueError(f"The question must be text, not {type(question).__name__}.")
    if not question.strip():
        raise ValueError("The question is empty: type what you want to know about the articles.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"The question is too long ({len(question)} characters; the limit is {MAX_QUESTION_CHARS})."
        )
    return question.strip()


def normalise_history(history) -> list[dict[str, str]]:
    """Accept role/content messages or (question, answer) pairs; keep the text turns."""
    messages: list[dict[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict) and isinstance(turn.get("content"), str):
            messages.append({"role": turn.get("role", "user"), "content": turn["content"]})
        elif isinstance(turn, list | tuple) and len(turn) == 2:
            messages += [
                {"role": r, "content": t}
                for r, t in zip(("user", "assistant"), turn, strict=True)
                if isinstance(t, str)
            ]
    return messages[-6:]


def context_size(settings: Settings) -> int:
    """Context window: system prompt, evidence, question and history, answer; rounded up to 256."""
    needed = 400 + settings.evidence_tokens + 600 + settings.answer_tokens
    return -(-needed // 256) * 256


class Pipeline:
    """Owns the index, the retriever and the generators; each is loaded once, on first use."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        generator_factory: Callable[[str], Generator] | None = None,
        progress: bool = False,
    ):
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._generator_factory = generator_factory or self._backend
        self._generators: dict[str, Generator] = {}
        self._progress = progress
        self._lock = threading.Lock()
        self._index = self._retriever = None
        self.index_report = None

    # -- lazily loaded parts --------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from .embedder import SentenceTransformerEmbedder
            from .models import ensure, spec

            s = spec(self.settings.embed_model)
            path = ensure(s.name, self.settings)
            self._embedder = SentenceTransformerEmbedder(path, s.name, s.sha256)
        return self._embedder

    @property
    def index(self):
        self._load_index()
        return self._index

    @property
    def retriever(self):
        self._load_index()
        return self._retriever

    def _load_index(self) -> None:
        with self._lock:
            if self._index is not None:
                return
            from .index import open_index
            from .retrieve import Retriever

            stored = (self.settings.index_dir / "current").exists()
            if not stored:
                log.warning(
                    "No index in %s yet: building it from %s",
                    self.settings.index_dir,
                    self.settings.corpus_dir,
                )
            self._index, self.index_report = open_index(self.settings, self.embedder, progress=self._progress)
            self._retriever = Retriever(self._index, self.embedder)

    def generator(self, model: str | None = None) -> Generator:
        name = model or self.settings.llm_model
        with self._lock:
            if name not in self._generators:
                self._generators[name] = self._generator_factory(name)
            return self._generators[name]

    def _backend(self, name: str) -> Generator:
        """A model server when ``settings.llm_url`` is set, else the in-process model."""
        if self.settings.llm_url:
            from .openai_backend import OpenAIGenerator

            return OpenAIGenerator.from_settings(self.settings, name)
        return self._llama(name)

    def _llama(self, name: str) -> Generator:
        from .llm import LlamaGenerator
        from .models import llm_path

        explicit = name if name != self.settings.llm_model else None
        path = llm_path(self.settings, explicit)
        label = name if self.settings.llm_path is None or explicit else path.name
        return LlamaGenerator(
            path,
            label,
            n_threads=self.settings.threads,
            n_ctx=context_size(self.settings),
            seed=self.settings.seed,
        )

    # -- public API -----------------------------------------------------------------

    def models(self) -> list[str]:
        """Catalogue generators whose weights are on disk (loading still verifies them)."""
        from .models import SPECS, model_path

        return [
            name
            for name, s in SPECS.items()
            if s.kind == "gguf" and model_path(s, self.settings.cache_dir).is_file()
        ]

    def document(self, doc_id: str) -> Document:
        return self.index.documents[doc_id]

    def index_info(self) -> dict:
        return {
            "documents": len(self.index.documents),
            "chunks": len(self.index.chunks),
            "built_at": self.index.manifest.get("built_at", ""),
        }

    def standalone(self, question: str, history: list[dict[str, str]], model: str | None) -> str:
        """Rewrite a follow-up into a question that stands on its own (for retrieval and answering)."""
        if not history:
            return question
        rewritten = self.generator(model).generate(
            prompts.rewrite_messages(question, history), REWRITE_TOKENS
        )
        rewritten = " ".join(rewritten.strip().strip('"').split())
        return rewritten if 3 <= len(rewritten) <= MAX_QUESTION_CHARS else question

    def _choose(
        self, generator: Generator, question: str, evidence: list[Evidence], timings: dict
    ) -> int | None:
        """The passage the model says answers the question, or None when it says none is about it.

        Its prompt is the answer prompt but for the last line, so its tokens are not
        counted again; ``timings["choose_ms"]`` records how long it took.
        """
        started = time.perf_counter()
        reply = generator.generate(prompts.choose_messages(question, evidence), CHOICE_TOKENS)
        timings["choose_ms"] = (time.perf_counter() - started) * 1000
        return chosen_passage(reply, len(evidence))

    def _generate(self, generator: Generator, messages, timings: dict, asked: float) -> Iterator[str]:
        """Stream one generation, adding its counts to ``timings`` (``asked``: when the question came).

        The first HOLD_CHARS characters are held back; if they open like "The sources
        don't say", the rest is held too and only released if it turns out to be an answer.
        """
        stats: dict = {}
        started = time.perf_counter()
        held, streaming = "", False
        for piece in generator.stream(messages, self.settings.answer_tokens, stats):
            timings.setdefault("ttft_ms", (time.perf_counter() - asked) * 1000)
            if streaming:
                yield piece
                continue
            held += piece
            if len(held.strip()) >= HOLD_CHARS and not held.lstrip().lower().startswith(ABSTAIN_OPENINGS):
                streaming = True
                yield held
        if not streaming and held and not is_abstention(held):
            yield held
        timings["generate_ms"] = timings.get("generate_ms", 0.0) + (time.perf_counter() - started) * 1000
        for key in ("prompt_tokens", "completion_tokens", "decode_ms"):
            timings[key] = timings.get(key, 0) + stats.get(key, 0)

    def ask(self, question: str, *, history=None, model: str | None = None, k: int | None = None) -> Answer:
        answer = None
        for item in self.ask_stream(question, history=history, model=model, k=k):
            answer = item
        return answer

    def ask_stream(
        self, question: str, *, history=None, model: str | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the final, checked ``Answer``."""
        question = check_question(question)
        started = time.perf_counter()
        generator = self.generator(model)
        retriever = self.retriever
        query = self.standalone(question, normalise_history(history), model)
        retrieval = retriever.retrieve(query, k or self.settings.top_k, self.settings.evidence_tokens)
        timings = {"retrieve_ms": retrieval.ms}

        def finish(answer: Answer) -> Answer:
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            answer.timings = timings
            answer.retrieved_doc_ids = list(dict.fromkeys(h.chunk.doc_id for h in retrieval.hits))
            answer.evidence = retrieval.evidence
            answer.query = query
            return answer

        if not retrieval.relevant:
            yield finish(abstained(question, generator.name, timings, "nothing relevant was retrieved"))
            return
        best = self._choose(generator, query, retrieval.evidence, timings)
        if best is None:
            why = "the model found no passage that answers"
            yield finish(abstained(question, generator.name, timings, why))
            return
        raw = ""
        for piece in self._generate(
            generator, prompts.answer_messages(query, retrieval.evidence, best), timings, started
        ):
            raw += piece
            yield piece
        yield finish(
            build_answer(
                question, raw, retrieval.evidence, self.index.documents, model=generator.name, timings=timings
            )
        )
