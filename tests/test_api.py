"""The HTTP API over real HTTP (uvicorn on a loopback port), with a fake pipeline that echoes.

The fake answers "Echo: <question> [1]." citing one sentence of one document, so a
reply shows whose question it answers; ``delay`` spreads its pieces out in time.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from types import SimpleNamespace

import httpx
import pytest

from rag.api import check_exposure, create_app
from rag.config import Settings
from rag.models import ModelError
from rag.openai_backend import ModelServerError, OpenAIGenerator
from rag.pipeline import Pipeline, check_question
from rag.retrieve import Retrieval
from rag.schema import Answer, Chunk, Citation, Document, Evidence, Hit, Source
from rag.serving import serve_in_thread

TEXT = "Deal struck\n\nThe US will lift curbs on chip software.\n\nChina will approve licences.\n"
QUOTE = "The US will lift curbs on chip software."
DOC = Document("d1", "Deal struck", date(2025, 6, 28), "Example Times", TEXT, "0" * 64)
START = TEXT.index(QUOTE)
KEY = "s3cret-key"
SERVER = "http://127.0.0.1:9/v1"  # never called: it only makes the settings those of a server backend


class FakePipeline:
    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.calls: list[dict] = []
        self.fail: Exception | None = None
        self.loaded = threading.Event()
        self.loaded.set()
        self.active = self.max_active = 0
        self._lock = threading.Lock()
        chunk = Chunk("d1", "d1#0", QUOTE, START, START + len(QUOTE), ((START, START + len(QUOTE)),))
        self.index = SimpleNamespace(documents={"d1": DOC}, chunks=[chunk])
        self.retriever = SimpleNamespace(
            retrieve=lambda q, k, budget: Retrieval(
                q,
                [Hit(chunk, 0.5, 1, 1)],
                [Evidence(1, "d1", QUOTE, START, START + len(QUOTE))],
                True,
                0.9,
                "close",
            )
        )

    def index_info(self, index=None) -> dict:
        self.loaded.wait()
        return {"documents": 1, "chunks": 1, "built_at": "2026-11-26T14:55:00+00:00"}

    def models(self) -> list[str]:
        return ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]

    def ask_stream(self, question, *, history=None, model=None, k=None):
        question = check_question(question)
        self.calls.append({"question": question, "history": history, "model": model, "k": k})
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.fail is not None:
                raise self.fail
            for piece in ("Echo: ", question):
                time.sleep(self.delay * random.random())
                yield piece
            cite = Citation(
                1, "d1", DOC.title, DOC.outlet, DOC.published, QUOTE, START, START + len(QUOTE), True
            )
            yield Answer(
                question,
                f"Echo: {question} [1].",
                [cite],
                sources=[Source.of(DOC)],
                timings={"total_ms": 5.0, "prompt_tokens": 40, "completion_tokens": 4},
                model=model or "fake",
            )
        finally:
            with self._lock:
                self.active -= 1


@contextlib.contextmanager
def running(pipeline, **settings):
    """The app on a free loopback port; yields an httpx client for it."""
    app = create_app(Settings(**settings), pipeline)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
def pipeline():
    return FakePipeline()


@pytest.fixture
def client(pipeline):
    with running(pipeline) as client:
        yield client


def events(text: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a server-sent event stream; comments are skipped."""
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "data" in fields:
            out.append((fields.get("event", "message"), json.loads(fields["data"])))
    return out


def test_ask_returns_the_answer_with_quoted_citations(client):
    r = client.post("/v1/ask", json={"question": "What did the US give up?"})
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == "Echo: What did the US give up? [1]." and body["abstained"] is False
    [c] = body["citations"]
    assert TEXT[c["start"] : c["end"]] == c["quote"] == QUOTE
    assert (c["title"], c["outlet"], c["published"]) == ("Deal struck", "Example Times", "2025-06-28")
    assert body["timings"]["total_ms"] == 5.0 and body["timings"]["queue_ms"] >= 0


def test_history_and_k_reach_the_pipeline(client, pipeline):
    history = [{"role": "user", "content": "First?"}, {"role": "assistant", "content": "A [1]."}]
    r = client.post("/v1/ask", json={"question": "And then?", "history": history, "k": 3})
    assert r.status_code == 200
    assert pipeline.calls[-1] == {"question": "And then?", "history": history, "model": None, "k": 3}


def test_stream_sends_text_pieces_then_the_answer(client):
    with client.stream("POST", "/v1/ask", params={"stream": "true"}, json={"question": "Who?"}) as r:
        r.read()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = events(r.text)
    assert [e for e, _ in got] == ["text", "text", "answer"]
    assert "".join(d["text"] for e, d in got if e == "text") == "Echo: Who?"
    assert got[-1][1]["citations"][0]["quote"] == QUOTE


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "question: Field required"),
        ({"question": "   "}, "The question is empty"),
        ({"question": "x" * 2001}, "too long"),
        ({"question": 5}, "question: Input should be a valid string"),
        ({"question": "q?", "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"question": "q?", "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"question": "q?", "history": [{"role": "system", "content": "x"}]}, "history.0.role"),
        ("not json", "JSON"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_input_is_a_400_with_a_json_message(client, pipeline, body, says, stream):
    """Checked before anything runs, so a stream request gets a plain 400 too, not an event."""
    kwargs = (
        {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, str) else {}
    )
    r = client.post("/v1/ask", params={"stream": stream}, json=None if kwargs else body, **kwargs)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and says in error["message"]
    assert pipeline.calls == []


def test_with_a_key_every_v1_request_needs_it_and_health_does_not(pipeline):
    with running(pipeline, api_key=KEY) as client:
        missing = client.post("/v1/ask", json={"question": "q?"})
        wrong = client.get("/v1/documents", headers={"Authorization": "Bearer nope"})
        right = client.post("/v1/ask", json={"question": "q?"}, headers={"Authorization": f"Bearer {KEY}"})
        health = client.get("/healthz")
    for r in (missing, wrong):
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["type"] == "authentication_error"
    assert right.status_code == 200 and health.status_code == 200
    assert len(pipeline.calls) == 1


def test_while_the_index_builds_requests_get_503_and_health_says_building(pipeline):
    pipeline.loaded.clear()
    with running(pipeline) as client:
        asked = client.post("/v1/ask", json={"question": "q?"})
        health = client.get("/healthz")
        pipeline.loaded.set()
        deadline = time.monotonic() + 10
        while client.get("/healthz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        after = client.post("/v1/ask", json={"question": "q?"})
    assert asked.status_code == 503 and asked.headers["retry-after"] == "5"
    assert asked.json()["error"]["type"] == "index_building"
    assert health.status_code == 503 and health.json()["status"] == "building"
    assert after.status_code == 200


def test_an_unavailable_model_is_a_503_that_says_what_to_do(client, pipeline):
    pipeline.fail = ModelError("Model qwen is missing. Run `rag models pull`.")
    r = client.post("/v1/ask", json={"question": "q?"})
    assert r.status_code == 503
    assert r.json()["error"] == {"message": pipeline.fail.args[0], "type": "model_unavailable"}
    with client.stream("POST", "/v1/ask?stream=true", json={"question": "q?"}) as streamed:
        streamed.read()
    assert events(streamed.text)[-1] == ("error", r.json())


def test_an_unexpected_failure_is_a_500_without_its_details(client, pipeline):
    pipeline.fail = RuntimeError("llama exploded at token 7")
    r = client.post("/v1/ask", json={"question": "q?"})
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    assert "RuntimeError" in r.json()["error"]["message"] and "exploded" not in r.text


def test_search_documents_and_unknown_paths(client):
    found = client.get("/v1/search", params={"q": "chip curbs", "k": 2}).json()
    assert found["relevant"] is True and found["hits"][0]["title"] == "Deal struck"
    assert found["evidence"][0]["text"] == QUOTE
    listed = client.get("/v1/documents").json()
    assert listed["index"]["documents"] == 1 and listed["documents"][0]["published"] == "2025-06-28"
    assert client.get("/v1/documents/d1").json()["text"] == TEXT
    assert client.get("/v1/documents/nope").status_code == 404
    assert client.get("/v1/search", params={"q": ""}).status_code == 400
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"


def v1(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/") + "/v1"


def openai_client(client: httpx.Client, key: str = "unused"):
    from openai import OpenAI

    return OpenAI(base_url=v1(client), api_key=key, max_retries=0)


def test_chat_completions_answer_existing_openai_clients_with_citations(client, pipeline):
    chat = openai_client(client)
    messages = [
        {"role": "system", "content": "You are helpful."},  # ignored: the assistant has its own prompts
        {"role": "user", "content": "First?"},
        {"role": "assistant", "content": "One [1]."},
        {"role": "user", "content": [{"type": "text", "text": "And then?"}]},
    ]
    reply = chat.chat.completions.create(model="qwen2.5-coder-0.5b", messages=messages)
    assert reply.choices[0].message.content == "Echo: And then? [1]."
    assert reply.citations[0]["quote"] == QUOTE and reply.abstained is False
    assert reply.usage.total_tokens == 44
    assert pipeline.calls[-1]["history"] == [
        {"role": "user", "content": "First?"},
        {"role": "assistant", "content": "One [1]."},
    ]
    assert pipeline.calls[-1]["model"] == "qwen2.5-coder-0.5b"
    assert [m.id for m in chat.models.list()] == ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]


def test_streamed_chat_completion_text_matches_its_citations(client):
    chunks = list(
        openai_client(client).chat.completions.create(
            model="qwen2.5-coder-1.5b", messages=[{"role": "user", "content": "Who?"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Echo: Who? [1]."
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].citations[0]["n"] == 1


def test_chat_completions_refuse_unknown_models_and_a_last_turn_that_is_not_a_question(client):
    import openai

    chat = openai_client(client)
    with pytest.raises(openai.NotFoundError, match="this server has: qwen2.5-coder-1.5b"):
        chat.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "q?"}])
    with pytest.raises(openai.BadRequestError, match="last message must be the user's question"):
        chat.chat.completions.create(model=None, messages=[{"role": "assistant", "content": "hi"}])


def test_a_waiting_stream_is_told_its_place_then_gets_its_own_answer():
    """In-process, one answer at a time: the second client hears it is first in line."""
    pipeline = FakePipeline()
    release = threading.Event()
    original = pipeline.ask_stream

    def held(question, **kw):
        if question == "Slow?":
            release.wait(10)
        yield from original(question, **kw)

    pipeline.ask_stream = held
    with running(pipeline) as client, ThreadPoolExecutor(2) as pool:
        slow = pool.submit(client.post, "/v1/ask", json={"question": "Slow?"})
        while client.get("/healthz").json()["queue"]["running"] == 0:
            time.sleep(0.02)
        with client.stream("POST", "/v1/ask?stream=true", json={"question": "Next?"}) as r:
            lines = r.iter_lines()
            first = [next(lines), next(lines)]
            release.set()
            text = "\n".join([*first, *lines])
        assert slow.result().json()["question"] == "Slow?"
    assert first == ["event: queue", 'data: {"place": 1}']
    got = events(text)
    assert ("queue", {"place": 0}) in got and got[-1][1]["question"] == "Next?"
    assert got[-1][1]["timings"]["queue_ms"] > 0


@pytest.mark.parametrize(("llm_url", "limit"), [(None, 1), (SERVER, 4)])
def test_eight_clients_three_questions_each_get_their_own_answers(llm_url, limit):
    """Answers overlap up to the gate's limit (one in-process, max_parallel with a server)."""
    pipeline = FakePipeline(delay=0.02)

    def client_run(client, n: int) -> list[tuple[str, dict]]:
        questions = [f"Client {n} question {i}?" for i in range(3)]
        return [(q, client.post("/v1/ask", json={"question": q}).json()) for q in questions]

    with running(pipeline, llm_url=llm_url, max_parallel=4) as client, ThreadPoolExecutor(8) as pool:
        results = [r for rs in pool.map(lambda n: client_run(client, n), range(8)) for r in rs]
    assert len(results) == 24
    for question, body in results:
        assert body["question"] == question and body["text"] == f"Echo: {question} [1]."
    assert pipeline.max_active == limit


@pytest.mark.parametrize(
    ("host", "key", "ok"),
    [("127.0.0.1", None, True), ("localhost", None, True), ("::1", None, True), ("0.0.0.0", None, False)]
    + [("192.168.1.5", None, False), ("example.org", None, False), ("0.0.0.0", KEY, True)],
)
def test_serving_beyond_loopback_needs_a_key(host, key, ok):
    settings = Settings(host=host, api_key=key)
    if ok:
        check_exposure(settings)
    else:
        with pytest.raises(ValueError, match="Set RAG_API_KEY"):
            create_app(settings, FakePipeline())


def test_the_openai_backend_streams_from_an_openai_compatible_server(client):
    """Our own /v1/chat/completions stands in for the model server here (the real
    llama.cpp server is in test_server_real.py): the last user turn comes back echoed."""
    generator = OpenAIGenerator(v1(client), "qwen2.5-coder-1.5b", api_key=None)
    stats: dict = {}
    text = generator.generate([{"role": "user", "content": "Ping?"}], 16, stats)
    assert text == "Echo: Ping? [1]."
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (40, 4)  # from the usage chunk
    assert stats["ttft_ms"] > 0


def test_the_openai_backend_says_what_to_check_when_the_server_refuses_or_is_gone(pipeline):
    with running(pipeline, api_key=KEY) as client:
        url = v1(client)
        with pytest.raises(ModelServerError, match="RAG_LLM_API_KEY"):
            OpenAIGenerator(url, "qwen2.5-coder-1.5b", api_key="wrong").generate(
                [{"role": "user", "content": "q"}]
            )
    with pytest.raises(ModelServerError, match="Is it running"):
        OpenAIGenerator(url, "qwen2.5-coder-1.5b", api_key=KEY, timeout=5).generate(
            [{"role": "user", "content": "q"}]
        )


def test_a_model_server_url_makes_the_pipeline_use_the_openai_backend():
    settings = Settings(llm_url=SERVER, llm_api_key=KEY, seed=7)
    generator = Pipeline(settings).generator("served-name")
    assert isinstance(generator, OpenAIGenerator)
    assert (generator.url, generator.name, generator.api_key, generator.seed) == (
        SERVER,
        "served-name",
        KEY,
        7,
    )
    assert KEY not in repr(settings)
