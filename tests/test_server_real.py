"""The assistant over a real model server: llama-cpp-python's OpenAI-compatible server with the
default GGUF (same threads, context and seed as in-process), on a free loopback port.

The same real-model checks as in-process run through the ``openai`` backend: cited answers,
abstention, follow-ups, streaming and the dev-set gate. Then the app itself (``python app.py``)
is started against that server and driven over HTTP: the API, its errors, and a bounded load test.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time

import httpx
import pytest

from rag import evaluate, loadtest
from rag.evaluate import fact_hit
from rag.llama_server import llama_server
from rag.openai_backend import OpenAIGenerator
from rag.pipeline import Pipeline
from rag.serving import free_port

from .conftest import ROOT, SEEDS

pytestmark = pytest.mark.real

GOLD = evaluate.load_gold(ROOT / "eval" / "dev.jsonl")
DEV = {g["id"]: g for g in GOLD}
APP_START_TIMEOUT_S = 300  # the embedder loads, and the index is built if missing
ANSWER_TIMEOUT_S = 600  # a CPU-only model, shared with other work


@pytest.fixture(scope="session")
def model_server(real_settings, tmp_path_factory):
    with llama_server(real_settings, tmp_path_factory.mktemp("llama-server") / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def server_settings(real_settings, model_server):
    return real_settings.with_(llm_url=model_server.url, llm_api_key=model_server.api_key)


@pytest.fixture(scope="session")
def server_pipeline(server_settings):
    pipeline = Pipeline(server_settings)
    assert isinstance(pipeline.generator(), OpenAIGenerator)
    return pipeline


def test_cited_answer_through_the_model_server(server_pipeline):
    """Each quote equals the article file's text[start:end], read again from disk."""
    answer = server_pipeline.ask(DEV["d02"]["question"])
    print(answer.to_markdown())
    assert not answer.abstained and answer.citations
    assert any(fact_hit(answer.text, f) for f in DEV["d02"]["facts"])
    for c in answer.citations:
        text = (SEEDS / f"{c.doc_id}.txt").read_text(encoding="utf-8")
        assert c.verified and text[c.start : c.end] == c.quote
    assert answer.timings["prompt_tokens"] > 0 and answer.timings["ttft_ms"] > 0


def test_off_topic_question_abstains_through_the_model_server(server_pipeline):
    answer = server_pipeline.ask("Who won the 2022 FIFA World Cup?")
    assert answer.abstained and answer.citations == []


def test_follow_up_through_the_model_server(server_pipeline):
    """As in test_ask_real: the first turn is fixed to what the articles say."""
    history = [
        {"role": "user", "content": DEV["d01"]["question"]},
        {"role": "assistant", "content": "The US will begin rolling back several restrictive measures [1]."},
    ]
    answer = server_pipeline.ask("And what did China promise in return?", history=history)
    print(f"searched for: {answer.query}", answer.to_markdown(), sep="\n")
    commitments = ("approve", "expedite", "accelerate")
    assert answer.query != answer.question and not answer.abstained
    assert any(any(word in c.quote for word in commitments) for c in answer.citations)


def test_stream_through_the_model_server(server_pipeline):
    *pieces, final = list(server_pipeline.ask_stream(DEV["d06"]["question"]))
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert final.citations and fact_hit(final.text, DEV["d06"]["facts"][0])


def test_dev_set_gate_through_the_model_server(server_pipeline, tmp_path, capsys):
    """Honesty, not recall: the pipeline is changing, so fact recall is only reported, while
    every citation must be valid, no must-not phrase may appear and abstention must be right."""
    report = evaluate.evaluate(GOLD, server_pipeline.ask, SEEDS, progress=False)
    evaluate.write_report(report, tmp_path)
    summary = report["summary"]
    with capsys.disabled():
        print("\ndev set through the model server:\n" + evaluate.summary_table(summary))
    assert summary["citation_validity"] == 1.0
    assert summary["must_not_violations"] == 0
    assert summary["abstention_accuracy"] == 1.0
    assert summary["questions"] == len(GOLD)


@pytest.fixture(scope="module")
def app_server(server_settings, tmp_path_factory):
    """``python app.py`` against the model server, with an API key; yields (url, key)."""
    port, key = free_port(), secrets.token_urlsafe(16)
    log_path = tmp_path_factory.mktemp("app") / "app.log"
    env = {
        **os.environ,
        "RAG_HOST": "127.0.0.1",
        "RAG_PORT": str(port),
        "RAG_API_KEY": key,
        "RAG_MAX_PARALLEL": "4",
        "RAG_LLM_URL": server_settings.llm_url,
        "RAG_LLM_API_KEY": server_settings.llm_api_key,
        "RAG_INDEX_DIR": str(server_settings.index_dir),
        "RAG_CORPUS_DIR": str(SEEDS),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + APP_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with code {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"app.py was not ready within {APP_START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(1)
        yield url, key
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


@pytest.fixture(scope="module")
def api(app_server):
    url, key = app_server
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=ANSWER_TIMEOUT_S
    ) as c:
        yield c


def test_api_gives_a_cited_answer_over_http(api):
    body = api.post("/v1/ask", json={"question": DEV["d07"]["question"]}).json()
    print(json.dumps(body["citations"], indent=1))
    assert not body["abstained"] and body["citations"]
    assert any(fact_hit(body["text"], f) for f in DEV["d07"]["facts"])
    for c in body["citations"]:
        text = (SEEDS / f"{c['doc_id']}.txt").read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"] and c["title"] and c["published"]


def test_api_streams_text_then_the_answer(api):
    with api.stream(
        "POST", "/v1/ask", params={"stream": "true"}, json={"question": DEV["d12"]["question"]}
    ) as r:
        names = [line[7:] for line in r.iter_lines() if line.startswith("event: ")]
    assert r.status_code == 200
    assert names[-1] == "answer" and "text" in names and names.index("text") < names.index("answer")


def test_api_refuses_a_bad_question_and_a_missing_key(api, app_server):
    bad = api.post("/v1/ask", json={"question": ""})
    assert bad.status_code == 400 and "empty" in bad.json()["error"]["message"]
    keyless = httpx.post(f"{app_server[0]}/v1/ask", json={"question": DEV["d07"]["question"]}, timeout=30)
    assert keyless.status_code == 401 and keyless.json()["error"]["type"] == "authentication_error"


def test_bounded_load_each_client_gets_its_own_right_answer(app_server, capsys):
    """Five clients ask at once, one more than RAG_MAX_PARALLEL, so one waits in line (the full
    8 x 3 run is `rag loadtest`; here the answers are kept few, as each takes a while on a CPU).

    Each reply must answer its own client's question. Batched decoding is not bit-identical to
    decoding alone, so the model may word one answer differently and miss its gold source, as
    the dev gate allows; answers crossed between clients would show as two or more wrong."""
    url, key = app_server
    summary = loadtest.run(url, GOLD, clients=5, per_client=1, api_key=key)
    with capsys.disabled():
        print("\nload through the app and the model server:\n" + loadtest.format_report(summary))
    assert summary["requests"] == 5 and summary["failed"] == 0
    assert not [r for r in summary["results"] if r["wrong"].startswith("answered another question")]
    assert summary["wrong"] <= 1, loadtest.format_report(summary)
    assert sum(r["queue_s"] > 1 for r in summary["results"]) == 1  # the fifth waited for a whole answer
    assert summary["latency_p95_s"] >= summary["latency_p50_s"] > 0
