"""Quality gates: the dev and extra gold sets through the real default model at temperature 0."""

from __future__ import annotations

import pytest

from rag import evaluate

from .conftest import ROOT, SEEDS

pytestmark = pytest.mark.real


def run(real_pipeline, name: str, tmp_path, capsys) -> dict:
    gold = evaluate.load_gold(ROOT / "eval" / f"{name}.jsonl")
    report = evaluate.evaluate(gold, real_pipeline.ask, SEEDS, progress=False)
    evaluate.write_report(report, tmp_path)
    with capsys.disabled():  # the summary belongs in the test output, pass or fail
        print(f"\n{name} set:\n" + evaluate.summary_table(report["summary"]))
    assert set(report["summary"]) == set(evaluate.SUMMARY_KEYS)
    return report["summary"]


def test_dev_set_quality_gate(real_pipeline, tmp_path, capsys):
    """Honesty is gated exactly: every quote verbatim, no number or name outside its quotes, no
    must-not phrase, every unanswerable question abstained. Fact recall was 0.83 when this gate
    was set and 0.90 since the clause-level comparison; the bar leaves room for a CPU whose
    arithmetic words an answer differently."""
    summary = run(real_pipeline, "dev", tmp_path, capsys)
    assert summary["citation_validity"] == 1.0
    assert summary["ungrounded_claims"] == 0
    assert summary["must_not_violations"] == 0
    assert summary["abstention_accuracy"] == 1.0
    assert summary["citation_support"] >= 0.95
    assert summary["fact_recall"] >= 0.75
    assert summary["retrieval_source_recall"] >= 0.9


def test_extra_set_quality_gate(real_pipeline, tmp_path, capsys):
    """Questions written after the dev set, thirteen of them unanswerable and worded to invite a
    number or a name: each must abstain ("Which mine in Myanmar…?" by the answer-kind check, as
    its true, quoted answer names no mine)."""
    summary = run(real_pipeline, "extra", tmp_path, capsys)
    assert summary["citation_validity"] == 1.0
    assert summary["ungrounded_claims"] == 0
    assert summary["must_not_violations"] == 0
    assert summary["abstention_accuracy"] == 1.0
    assert summary["fact_recall"] >= 0.75
