"""The chat page's wiring, with a fake pipeline: streaming, follow-ups, bad input, errors, queueing."""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag import render
from rag.config import Settings
from rag.pipeline import Pipeline
from rag.schema import Answer, Citation, Document, Source
from rag.serving import free_port

ROOT = Path(__file__).resolve().parent.parent


def load_app():
    """app.py sits at the repository root, outside the installed package, so load it by path."""
    spec = importlib.util.spec_from_file_location("rag_chat_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app = load_app()

TEXT = "Headline\n\nThe US will lift curbs on chip software.\n\nOther news."
QUOTE = "The US will lift curbs on chip software."
DOC = Document("d1", "Deal struck", date(2025, 6, 28), "Example Times", TEXT, "0" * 64)


def make_answer(question: str, text: str = "The US will lift curbs [1].") -> Answer:
    start = TEXT.index(QUOTE)
    cite = Citation(1, "d1", DOC.title, DOC.outlet, DOC.published, QUOTE, start, start + len(QUOTE), True)
    return Answer(
        question=question,
        text=text,
        citations=[cite],
        sources=[Source.of(DOC)],
        timings={"total_ms": 2500.0},
        model="fake",
    )


class FakePipeline:
    """Replays queued text pieces, then an Answer; records every call.

    ``fail`` makes the next call raise it after the first piece. ``delay``
    slows each piece down so that overlapping calls would show in ``max_active``.
    """

    def __init__(self, pieces=("The US will ", "lift curbs [1]."), delay: float = 0.0):
        self.pieces = list(pieces)
        self.delay = delay
        self.calls: list[dict] = []
        self.fail: Exception | None = None
        self.final = True
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def ask_stream(self, question, *, history=None, model=None, k=None):
        self.calls.append({"question": question, "history": list(history or []), "model": model, "k": k})
        if not question.strip() or len(question) > 2000:
            raise ValueError(f"questions must be 1 to 2000 characters long, this one has {len(question)}")
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            for i, piece in enumerate(self.pieces):
                time.sleep(self.delay)
                if i == 1 and self.fail is not None:
                    raise self.fail
                yield piece
            if self.final:
                yield make_answer(question, "".join(self.pieces))
        finally:
            with self._lock:
                self.active -= 1

    def document(self, doc_id: str) -> Document:
        return {"d1": DOC}[doc_id]

    def index_info(self, index=None) -> dict:
        return {"documents": 1, "chunks": 3, "built_at": "2026-11-26T14:55:00+00:00"}

    def models(self) -> list[str]:
        return ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]


def last_message(update) -> str:
    _, chat, _, _ = update
    return chat[-1]["content"]


def test_answer_streams_then_is_replaced_by_the_rendered_answer():
    """Each piece re-renders the growing raw text; the last update swaps it for the
    rendered answer with its citation card, clears the box and sets the status."""
    pipeline = FakePipeline()
    updates = list(app.respond(pipeline, "What did the US give up?", [], [], "qwen2.5-coder-0.5b", 4.0))

    shown = [last_message(u) for u in updates]
    assert shown[1] == render.streaming_html("The US will ")
    assert shown[2] == render.streaming_html("The US will lift curbs [1].")
    final_box, chat, turns, status = updates[-1]
    assert final_box == ""
    assert chat[0] == {"role": "user", "content": render.question_html("What did the US give up?")}
    assert chat[-1]["content"] == render.answer_html(
        make_answer("q", "The US will lift curbs [1]."), {"d1": DOC}
    )
    assert 'class="rag-quote"' in chat[-1]["content"]
    assert status == "answered in 2.5 s from 1 source"
    assert turns == [
        {"role": "user", "content": "What did the US give up?"},
        {"role": "assistant", "content": "The US will lift curbs [1]."},
    ]


def test_model_and_top_k_are_passed_through():
    """The slider hands over a float; the pipeline gets an int."""
    pipeline = FakePipeline()
    list(app.respond(pipeline, "q?", [], [], "qwen2.5-coder-0.5b", 4.0))
    assert pipeline.calls[0]["model"] == "qwen2.5-coder-0.5b"
    assert pipeline.calls[0]["k"] == 4 and isinstance(pipeline.calls[0]["k"], int)


def test_follow_up_gets_the_earlier_turns_as_plain_text_history():
    """The pipeline sees what was said (answer text with [n] markers), not the HTML on screen."""
    pipeline = FakePipeline()
    *_, (_, chat, turns, _) = app.respond(pipeline, "First?", [], [], None, None)
    list(app.respond(pipeline, "And then?", chat, turns, None, None))
    assert pipeline.calls[1]["history"] == [
        {"role": "user", "content": "First?"},
        {"role": "assistant", "content": "The US will lift curbs [1]."},
    ]


def test_empty_message_gives_a_hint_without_calling_the_pipeline():
    pipeline = FakePipeline()
    updates = list(app.respond(pipeline, "   ", [], [], None, None))
    assert len(updates) == 1
    assert last_message(updates[0]) == render.notice_html(app.EMPTY_HINT, "hint")
    assert pipeline.calls == []


def test_over_long_message_is_refused_readably_and_kept_for_editing():
    """The pipeline's ValueError becomes a chat message; the text stays in the box to be shortened."""
    pipeline = FakePipeline()
    long = "x" * 2500
    *_, (box, chat, turns, status) = app.respond(pipeline, long, [], [], None, None)
    assert box == long
    assert (
        "I can&#x27;t answer that question: questions must be 1 to 2000 characters long"
        in chat[-1]["content"]
    )
    assert 'class="rag-notice rag-error"' in chat[-1]["content"]
    assert turns == [] and status == "question not accepted"


def test_a_model_that_is_not_provisioned_says_how_to_provision_it():
    """Picking a generator whose weights are missing shows the provisioning command; the question stays."""
    from rag.models import ModelError

    pipeline = FakePipeline()
    pipeline.fail = ModelError("Model x is missing. Run `rag models pull qwen2.5-coder-0.5b`.")
    *_, (box, chat, turns, status) = app.respond(pipeline, "q?", [], [], "qwen2.5-coder-0.5b", None)
    assert "Run `rag models pull qwen2.5-coder-0.5b`." in chat[-1]["content"]
    assert box == "q?" and turns == [] and status == "model unavailable"


def test_an_exception_while_answering_is_a_readable_message_and_a_logged_traceback(caplog):
    pipeline = FakePipeline()
    pipeline.fail = RuntimeError("llama exploded at token 7")
    with caplog.at_level(logging.ERROR, logger="rag.app"):
        *_, (_, chat, turns, status) = app.respond(pipeline, "q?", [], [], None, None)
    shown = chat[-1]["content"]
    assert "something went wrong while answering (RuntimeError)" in shown
    assert "Traceback" not in shown and "llama exploded" not in shown
    assert turns == [] and status == "failed"
    assert caplog.records[-1].exc_info is not None  # the traceback went to the log


def test_a_stream_without_a_final_answer_is_reported():
    pipeline = FakePipeline()
    pipeline.final = False
    *_, (_, chat, _, status) = app.respond(pipeline, "q?", [], [], None, None)
    assert "cut off" in chat[-1]["content"] and status == "failed"


def test_build_app_queues_every_answer_event_one_at_a_time():
    """Ask button, Enter and the example buttons all run the model, so they share one
    concurrency group with limit 1: a second user waits instead of re-entering the model."""
    demo = app.build_app(Settings(), FakePipeline())
    answering = [f for f in demo.fns.values() if f.name == "answer"]
    assert len(answering) == 2 + len(app.EXAMPLES)
    assert {(f.concurrency_limit, f.concurrency_id) for f in answering} == {(1, app.PIPELINE_QUEUE)}


def test_concurrent_users_queue_and_each_get_their_own_answer(monkeypatch):
    """Two clients ask at once over HTTP; the fake never sees two calls overlap and
    each client's final chat holds its own question."""
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")  # keep gradio_client off the network
    from gradio_client import Client

    pipeline = FakePipeline(delay=0.2)
    demo = app.build_app(Settings(), pipeline)
    port = free_port()
    demo.queue(default_concurrency_limit=1).launch(
        server_name="127.0.0.1",
        server_port=port,
        share=False,
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
    )
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
        jobs = {
            q: client.submit(q, [], "qwen2.5-coder-1.5b", 3, api_name="/ask") for q in ("Alpha?", "Beta?")
        }
        results = {q: job.result(timeout=60) for q, job in jobs.items()}
    finally:
        demo.close()
    assert pipeline.max_active == 1
    for question, (_, chat, status) in results.items():
        assert question in str(chat[0]["content"])
        assert status == "answered in 2.5 s from 1 source"


@pytest.mark.parametrize("default", ["qwen2.5-coder-1.5b", "my-own.gguf"])
def test_model_choice_defaults_to_the_configured_model(default):
    """The configured model is always selectable, even when the pipeline does not list it."""
    demo = app.build_app(Settings(llm_model=default), FakePipeline())
    dropdown = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "rag-model")
    assert dropdown.value == default
    assert default in [c[1] for c in dropdown.choices]


# -- the article library on the page (a real Pipeline with the fake embedder) ---------------------


@pytest.fixture
def library_pipeline(seeds, tmp_path):
    from rag.pipeline import Pipeline

    from .conftest import FakeEmbedder

    return Pipeline(Settings.from_env(corpus_dir=seeds, index_dir=tmp_path / "idx"), embedder=FakeEmbedder())


@pytest.fixture
def uploads(tmp_path):
    from .files import news_html, tiny_pdf

    folder = tmp_path / "gradio-upload"
    folder.mkdir()
    (folder / "deal.html").write_text(
        news_html(
            "Gallium deal signed in Oslo", ["Chile will ship 340 tonnes of gallium to Norway each year."]
        ),
        encoding="utf-8",
    )
    (folder / "scan.pdf").write_bytes(tiny_pdf([[]]))
    return folder


def test_upload_indexes_the_files_and_names_each_skipped_one(library_pipeline, uploads):
    before = len(library_pipeline.index.documents)
    steps = []
    cleared, note, table, menu, header = app.add_articles(
        library_pipeline,
        [str(uploads / "deal.html"), str(uploads / "scan.pdf")],
        lambda f, desc: steps.append(f),
    )
    assert cleared is None  # the upload box empties for the next drop
    assert "Added 1 article: deal.html." in note
    assert '<span class="rag-skipped-name">scan.pdf</span>: the PDF has no text layer' in note
    assert "Gallium deal signed in Oslo" in table and "The Harbour Gazette" in table
    assert ("Gallium deal signed in Oslo · The Harbour Gazette · 14 Mar 2025", "deal") in menu.choices
    assert header.startswith(f"{before + 1} articles")
    assert library_pipeline.document("deal").format == "html"  # the pipeline reopened its index
    assert steps[-1] == 1.0


def test_a_listing_asked_for_during_an_upload_waits_for_it(library_pipeline, uploads, monkeypatch):
    """The page's listing on load and an upload run on different workers: a listing taken
    while the upload indexes would arrive after the upload's own and hide the new article."""
    from rag import library

    started, go = threading.Event(), threading.Event()
    add_files = library.add_files

    def paused(*args, **kwargs):
        started.set()
        go.wait(10)
        return add_files(*args, **kwargs)

    monkeypatch.setattr(library, "add_files", paused)
    library_pipeline.index  # noqa: B018 - loaded before, as on a page that is already up
    upload = threading.Thread(target=app.add_articles, args=(library_pipeline, [str(uploads / "deal.html")]))
    upload.start()
    assert started.wait(10)
    listed = []
    viewer = threading.Thread(target=lambda: listed.append(app.library_view(library_pipeline)))
    viewer.start()
    viewer.join(0.3)
    assert viewer.is_alive()  # waiting for the change
    go.set()
    upload.join(30)
    viewer.join(30)
    table, menu, _ = listed[0]
    assert "Gallium deal signed in Oslo" in table and "deal" in [value for _, value in menu.choices]


class Reloading:
    """A pipeline whose every read of ``index`` finds a newer generation, as when a reload
    lands between two reads: the first has one article, the next none."""

    def __init__(self):
        first = SimpleNamespace(documents={"d1": DOC}, chunks=[1, 2, 3], manifest={})
        self.generations = iter([first] + [SimpleNamespace(documents={}, chunks=[], manifest={})] * 3)

    @property
    def index(self):
        return next(self.generations)

    index_info = Pipeline.index_info


def test_the_listing_and_its_header_describe_one_index_generation():
    table, menu, header = app.library_view(Reloading())
    assert "Deal struck" in table and [value for _, value in menu.choices] == ["d1"]
    assert header == "1 article · 3 chunks"


def test_remove_from_the_page(library_pipeline, uploads):
    app.add_articles(library_pipeline, [str(uploads / "deal.html")])
    note, table, menu, _ = app.remove_article(library_pipeline, "deal")
    assert "Removed deal." in note and "Gallium deal" not in table
    assert "deal" not in library_pipeline.index.documents
    assert "deal" not in [value for _, value in menu.choices]
    assert "Choose an article" in app.remove_article(library_pipeline, None)[0]
    assert "No article &#x27;deal&#x27;" in app.remove_article(library_pipeline, "deal")[0]


def test_index_writes_wait_in_the_answer_queue():
    """Uploading or removing swaps the index: never while an answer is being written."""
    demo = app.build_app(Settings(), FakePipeline())
    writes = [f for f in demo.fns.values() if f.name in ("add", "drop")]
    assert len(writes) == 2
    assert {(f.concurrency_limit, f.concurrency_id) for f in writes} == {(1, app.PIPELINE_QUEUE)}


def test_a_question_waiting_for_the_shared_gate_shows_its_place_in_line():
    """The page and the API share one gate: while an API answer holds it, the page says so."""
    from rag.serving import Gate

    gate = Gate(1)
    holder = gate.join()
    threading.Timer(0.3, gate.leave, [holder]).start()
    updates = list(app.respond(FakePipeline(), "q?", [], [], None, None, gate))
    statuses = [status for *_, status in updates]
    assert statuses[1] == "waiting: number 1 in line…"
    assert statuses[-1] == "answered in 2.5 s from 1 source"
    assert gate.load() == {"running": 0, "waiting": 0, "limit": 1}


def test_with_a_model_server_the_page_runs_as_many_answers_as_the_gate_allows():
    from rag.serving import Gate

    settings = Settings(llm_url="http://127.0.0.1:9/v1")
    demo = app.build_app(settings, FakePipeline(), Gate(3))
    answering = [f for f in demo.fns.values() if f.name == "answer"]
    assert {f.concurrency_limit for f in answering} == {3}
    dropdown = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "rag-model")
    assert [c[1] for c in dropdown.choices] == [settings.llm_model]  # local files mean nothing to a server


@pytest.mark.parametrize("key", [None, "s3cret"])
def test_page_and_api_are_one_app_and_a_key_guards_both(key):
    """With RAG_API_KEY the page logs in with the key as password; the API wants it as a bearer token."""
    import httpx

    from rag.serving import serve_in_thread

    with serve_in_thread(app.serve_app(Settings(api_key=key), FakePipeline())) as url:
        client = httpx.Client(base_url=url, timeout=30)
        page = client.get("/")
        config_before = client.get("/config").status_code
        asked = client.post("/v1/ask", json={"question": "q?"}).status_code
        if key:
            assert client.post("/login", data={"username": "any", "password": "wrong"}).status_code == 400
            assert client.post("/login", data={"username": "any", "password": key}).status_code == 200
        config_after = client.get("/config").status_code
    assert page.status_code == 200 and "<html" in page.text
    assert (config_before, asked, config_after) == ((401, 401, 200) if key else (200, 200, 200))
