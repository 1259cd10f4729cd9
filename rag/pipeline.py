"""The question-answering pipeline: retrieve evidence, generate, check citations."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from . import prompts
from .answer import MARKER, AnswerBuilder, Sources, abstained, candidates_for, is_abstention
from .config import Settings
from .embedder import Embedder
from .llm import Generator
from .schema import Answer, Document

MAX_QUESTION_CHARS = 2000
REWRITE_TOKENS = 64
REMEMBERED_TURNS = 64  # turns kept so a follow-up can resend them exactly
# Parts of a question the first pass leaves open that the model is asked again, one each.
MAX_PART_PASSES = 2
PASS_COUNTS = ("prompt_tokens", "cached_tokens", "completion_tokens", "passes", "decode_ms", "paused_ms")
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
    """Accept role/content messages or (question, answer) pairs; keep the text turns.

    Citation markers are removed: they number that answer's citations, not the articles.
    """
    messages: list[dict[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict) and isinstance(turn.get("content"), str):
            messages.append({"role": turn.get("role", "user"), "content": MARKER.sub("", turn["content"])})
        elif isinstance(turn, list | tuple) and len(turn) == 2:
            messages += [
                {"role": r, "content": MARKER.sub("", t)}
                for r, t in zip(("user", "assistant"), turn, strict=True)
                if isinstance(t, str)
            ]
    return messages[-6:]


def _resolved(link: Path) -> Path | None:
    """Where the index's ``current`` link points now; None when there is no index."""
    return link.resolve() if link.exists() else None


def context_size(settings: Settings) -> int:
    """Context window: the larger of the corpus and the evidence prompt, plus question, history
    and answer; rounded up to 256."""
    material = settings.evidence_tokens if settings.context == "evidence" else settings.corpus_tokens
    needed = 400 + max(material, settings.evidence_tokens) + 600 + settings.answer_tokens
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
        self._contexts: dict[str, tuple] = {}  # generator -> (the index it reads, context)
        self._said: OrderedDict[tuple[str, str], tuple[dict, dict]] = OrderedDict()
        self.index_report = None

    # -- lazily loaded parts --------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from .embedder import SentenceTransformerEmbedder
            from .models import ensure, spec

            s = spec(self.settings.embed_model)
            path = ensure(s.name, self.settings)
            self._embedder = SentenceTransformerEmbedder(path, s.name, s.sha256, s.dim)
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
        """Open the index on first use, and again when ``current`` points to another
        generation than the open one (articles added or removed, here or by ``rag add``)."""
        current = Path(self.settings.index_dir) / "current"
        with self._lock:
            if self._index is not None and self._index.generation == _resolved(current):
                return
            from .index import open_index
            from .retrieve import Retriever

            if not current.exists():
                log.warning(
                    "No index in %s yet: building it from %s",
                    self.settings.index_dir,
                    self.settings.corpus_dir,
                )
            self._index, self.index_report = open_index(self.settings, self.embedder, progress=self._progress)
            self._retriever = Retriever(self._index, self.embedder)

    def generator(self, model: str | None = None) -> Generator:
        """The generator ``model`` (default: the configured one). A new one starts loading in
        the background, so its weights load while the embedder and the index do."""
        name = model or self.settings.llm_model
        with self._lock:
            if name not in self._generators:
                made = self._generators[name] = self._generator_factory(name)
                threading.Thread(target=_load, args=(made, self.settings.verify_claims), daemon=True).start()
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
            fingerprint=fingerprint(path),
            draft_tokens=self.settings.draft_tokens,
        )

    def context(self, model: str | None = None):
        """The context strategy for this generator (corpus prefix or evidence), built once."""
        generator = self.generator(model)
        index = self.index
        with self._lock:
            made = self._contexts.get(generator.name)
            if made is None or made[0] is not index:
                from .context import select_context

                made = (index, select_context(self.settings, index, generator))
                if index is self._index:  # not replaced meanwhile (an upload during the warm-up)
                    self._contexts[generator.name] = made
            return made[1]

    def warm(self, model: str | None = None):
        """Load the index, the models and the context (computing or loading a corpus prefix)."""
        return self.context(model).prepare(progress=self._progress)

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

    def index_info(self, index=None) -> dict:
        """The index's summary: of ``index`` when the caller has read it already (so a listing
        and its summary come from one generation), else of the index as it stands."""
        index = self.index if index is None else index  # once: a reload must not mix two generations
        return {
            "documents": len(index.documents),
            "chunks": len(index.chunks),
            "built_at": index.manifest.get("built_at", ""),
        }

    def standalone(self, question: str, history: list[dict[str, str]], model: str | None, mode: str) -> str:
        """What to search for. A follow-up in evidence mode is rewritten by the model into a
        question that stands on its own, since the passages found are all the model reads; in
        corpus mode the model reads the conversation and every article, so the search (for the
        relevance signal) just joins the last question asked to this one."""
        if not history:
            return question
        if mode == "corpus":
            last = next((m["content"] for m in reversed(history) if m["role"] == "user"), "")
            return f"{last} {question}".strip()
        rewritten = self.generator(model).generate(
            prompts.rewrite_messages(question, history), REWRITE_TOKENS
        )
        rewritten = " ".join(rewritten.strip().strip('"').split())
        return rewritten if 3 <= len(rewritten) <= MAX_QUESTION_CHARS else question

    def ask(self, question: str, *, history=None, model: str | None = None, k: int | None = None) -> Answer:
        answer = None
        for item in self.ask_stream(question, history=history, model=model, k=k):
            answer = item
        return answer

    def ask_stream(
        self, question: str, *, history=None, model: str | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        """Yield checked answer sentences as they are written, then the final ``Answer``.

        The model's text is checked sentence by sentence (attribution and grounding), so
        only claims that passed are ever shown; the rest are reported in ``warnings``.
        """
        question = check_question(question)
        started = time.perf_counter()
        generator = self.generator(model)
        retriever = self.retriever
        context = self.context(model)
        turns = normalise_history(history)
        query = self.standalone(question, turns, model, context.mode)
        turns = self._replay(turns)
        retrieval = retriever.retrieve(query, k or self.settings.top_k, self.settings.evidence_tokens)
        timings = {"retrieve_ms": retrieval.ms}

        def finish(answer: Answer) -> Answer:
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            answer.timings = timings
            answer.retrieved_doc_ids = list(dict.fromkeys(h.chunk.doc_id for h in retrieval.hits))
            answer.evidence = retrieval.evidence
            answer.query = query
            answer.context = context.mode
            return answer

        if not retrieval.relevant:
            yield finish(abstained(question, generator.name, timings, "nothing relevant was retrieved"))
            return
        prompt = context.prompt(question if context.mode == "corpus" else query, turns, retrieval)
        sources = self._sources(retriever, retrieval, prompt, model)
        builder = AnswerBuilder(question, sources, also_asked=query)
        stats: dict = {}
        generating = time.perf_counter()
        raw, cut_off = yield from self._write(generator, prompt.messages, builder, stats, timings, started)
        asked, said = prompt.messages[-1], raw
        shown = len(builder.kept)  # what _write yielded
        parts = []
        if not is_abstention(raw):
            builder.end(raw, cut_off)
            parts = builder.left_open()[:MAX_PART_PASSES]
        for part in parts:  # the same context, so its KV cache is reused up to the question
            builder.end(raw, cut_off)  # the pass before: its last sentence counts too
            for sentence in builder.kept[shown:]:
                yield sentence + " "
            builder.take_up(part)
            messages = context.prompt(part, turns, retrieval).messages
            raw, cut_off = yield from self._write(generator, messages, builder, stats, timings, started)
            shown = len(builder.kept)
        timings["generate_ms"] = (time.perf_counter() - generating) * 1000
        timings.update(stats)
        answer = builder.finish(raw, generator.name, timings, cut_off)
        if not answer.abstained:
            for sentence in builder.kept[shown:] + builder.untold:  # these complete only at the end
                yield sentence + " "
        if not parts:  # the model's text for a turn of several passes is not one reply
            self._remember(question, answer.text, asked, said)
        yield finish(answer)

    def _write(self, generator, messages, builder, stats, timings, started):
        """One pass of the model over ``messages``, its checked sentences yielded as they
        complete; returns its text and whether the token budget cut it off. Its counts are
        added to ``stats``."""
        counts: dict = {}
        raw = ""
        stream = generator.stream(messages, self.settings.answer_tokens, counts)
        try:
            for piece in stream:
                timings.setdefault("ttft_ms", (time.perf_counter() - started) * 1000)
                raw += piece
                for sentence in builder.feed(raw):
                    yield sentence + " "
                if builder.stopped:
                    break
        finally:
            stream.close()  # stops the generation (also when our caller stops reading)
        for key in PASS_COUNTS:
            stats[key] = stats.get(key, 0) + counts.get(key, 0)
        return raw, counts.get("completion_tokens", 0) >= self.settings.answer_tokens

    def _remember(self, question: str, text: str, asked: dict[str, str], raw: str) -> None:
        """Keep how a turn was put to the model, so a follow-up sends it again token for token."""
        self._said[(question, MARKER.sub("", text))] = (asked, {"role": "assistant", "content": raw})
        while len(self._said) > REMEMBERED_TURNS:
            self._said.popitem(last=False)

    def _replay(self, turns: list[dict[str, str]]) -> list[dict[str, str]]:
        """Earlier turns as the model saw and wrote them, where remembered: the KV cache still
        holds them, so a follow-up reads only its own question."""
        out = list(turns)
        for i in range(len(out) - 1):
            key = (out[i]["content"], out[i + 1]["content"])
            if out[i]["role"] == "user" and out[i + 1]["role"] == "assistant" and key in self._said:
                out[i], out[i + 1] = self._said[key]
        return out

    def _sources(self, retriever, retrieval, prompt, model: str | None = None) -> Sources:
        """The sentences a claim may be attributed to: the whole corpus when the model read it,
        else every sentence of the articles retrieval found (all from the index ``retriever``
        searched, even if a new one has replaced it since)."""
        index = retriever.index
        docs = {h.chunk.doc_id for h in retrieval.hits} | {u.doc_id for u in prompt.units}
        rows = [
            r
            for r, (doc_id, _, _) in enumerate(retriever.sentences)
            if retriever.quotable[r] and (prompt.mode == "corpus" or doc_id in docs)
        ]
        spans = [retriever.sentences[r] for r in rows]
        verify = partial(judged, self.generator(model)) if self.settings.verify_claims else None
        return Sources(
            candidates_for(spans, index.documents, prompt.units),
            index.sentence_vectors[rows],
            index.documents,
            self.embedder.embed,
            lambda word: word in retriever.lowercase,
            verify,
        )


def _load(generator: Generator, judge: bool) -> None:
    """Load ``generator`` ahead of its first use; a failure is met again, and raised, there."""
    try:
        generator.load(judge)
    except Exception as error:  # noqa: BLE001 - the first real use reports it
        log.debug("Loading %s ahead of use failed: %s", generator.name, error)


def judged(generator: Generator, claim: str, quotes: list[str], dated: str = "") -> float | None:
    """The generator's P(yes) that ``quotes``, from articles published ``dated``, state ``claim``."""
    return generator.judge(prompts.verify_messages(claim, quotes, dated))


def fingerprint(path) -> str:
    """Identifies a model file cheaply: name, size and modification time."""
    from pathlib import Path

    st = Path(path).stat()
    return f"{Path(path).name}:{st.st_size}:{st.st_mtime_ns}"
