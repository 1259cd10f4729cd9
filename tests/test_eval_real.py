"""Quality gates: the gold sets through the real default model at temperature 0."""

from __future__ import annotations

import pytest

from rag import evaluate
from rag.config import Settings

from .conftest import ROOT, SEEDS

pytestmark = pytest.mark.real


def run(real_pipeline, name: str, tmp_path, capsys, corpus=SEEDS) -> dict:
    gold = evaluate.load_gold(ROOT / "eval" / f"{name}.jsonl")
    report = evaluate.evaluate(gold, real_pipeline.ask, corpus, progress=False)
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


def test_multi_part_set_quality_gate(real_pipeline, tmp_path, capsys):
    """Questions that join two or three questions, often answered from different articles:
    a sentence joining two facts is checked statement by statement, and a part the articles
    leave open is named while the rest is answered (both parts open: the answer abstains)."""
    summary = run(real_pipeline, "multi", tmp_path, capsys)
    assert summary["citation_validity"] == 1.0
    assert summary["ungrounded_claims"] == 0
    assert summary["must_not_violations"] == 0
    assert summary["abstention_accuracy"] == 1.0
    assert summary["uncited_sentence_rate"] == 0.0
    assert summary["fact_recall"] >= 0.7


def test_yes_or_no_set_quality_gate(real_pipeline, tmp_path, capsys):
    """Yes-or-no questions: the model's "Yes, <the question as a statement>" must not stand
    ("Has China approved the applications?" where the articles say it will), and none the
    articles cannot answer is answered. Five of the eight answerable questions had their
    fact when this gate was set (recall 0.625): some true answers are lost with restatements."""
    summary = run(real_pipeline, "polar", tmp_path, capsys)
    assert summary["citation_validity"] == 1.0
    assert summary["ungrounded_claims"] == 0
    assert summary["must_not_violations"] == 0
    answered_wrongly = round((1 - summary["abstention_accuracy"]) * summary["questions"])
    assert answered_wrongly == summary["false_abstentions"]  # no unanswerable question answered
    assert summary["fact_recall"] >= 0.375


def test_dev_set_quality_gate_among_generated_articles(real_embedder, tmp_path, capsys):
    """The dev questions among the seeds and 300 generated articles on other commodity deals
    (``rag eval --distractors 300``): the corpus is too large to read whole, so this gates the
    evidence strategy, with other deals' licences, shipments and prices as distractors."""
    from rag.pipeline import Pipeline
    from rag.scale import mix_corpus

    corpus = mix_corpus(SEEDS, tmp_path / "corpus", 300)
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    pipeline = Pipeline(settings, embedder=real_embedder)
    summary = run(pipeline, "dev", tmp_path / "report", capsys, corpus)
    assert pipeline.context().mode == "evidence"
    assert summary["citation_validity"] == 1.0
    assert summary["ungrounded_claims"] == 0
    assert summary["must_not_violations"] == 0
    assert summary["abstention_accuracy"] == 1.0
    assert summary["fact_recall"] >= 0.75
