"""The load test's plan and verdicts, and a small run against the app with the echoing fake pipeline."""

from __future__ import annotations

from rag import loadtest
from rag.api import create_app
from rag.config import Settings
from rag.serving import serve_in_thread

from .test_api import FakePipeline


def gold(n: int, answerable: bool = True) -> list[dict]:
    return [
        {"id": f"g{i}", "question": f"Question {i}?", "answerable": answerable, "sources": ["d1"]}
        for i in range(n)
    ]


def test_clients_asking_at_the_same_moment_ask_different_questions():
    """Round j of client i is question i + j * clients: in every round all clients differ."""
    plan = loadtest.plan(gold(5), clients=4, per_client=2)
    assert [[q["id"] for q in qs] for qs in plan] == [["g0", "g4"], ["g1", "g0"], ["g2", "g1"], ["g3", "g2"]]


def test_a_reply_is_right_only_for_its_own_question_with_honest_abstention_and_a_gold_source():
    item = gold(1)[0]
    body = {"question": "Question 0?", "abstained": False, "citations": [{"doc_id": "d1"}]}
    assert loadtest.verdict(item, 200, body) == ""
    assert "another question" in loadtest.verdict(item, 200, {**body, "question": "Question 1?"})
    assert loadtest.verdict(item, 200, {**body, "abstained": True}) == "abstained"
    assert "cannot answer" in loadtest.verdict({**item, "answerable": False}, 200, body)
    assert "gold sources" in loadtest.verdict(item, 200, {**body, "citations": [{"doc_id": "d9"}]})
    assert loadtest.verdict(item, 503, {"error": {"message": "building"}}) == "HTTP 503: building"


def test_run_reports_throughput_latency_and_every_wrong_reply():
    pipeline = FakePipeline(delay=0.02)
    questions = gold(3) + [{**gold(4)[3], "answerable": False}]
    with serve_in_thread(create_app(Settings(llm_url="http://127.0.0.1:9/v1"), pipeline)) as url:
        summary = loadtest.run(url, questions, clients=4, per_client=2)
    assert (summary["requests"], summary["failed"], summary["wrong"]) == (8, 0, 2)  # g3, asked twice
    assert summary["latency_p95_s"] >= summary["latency_p50_s"] > 0 and summary["throughput_per_min"] > 0
    report = loadtest.format_report(summary)
    assert "4 clients x 2 questions = 8 requests" in report and "g3: answered a question" in report
