"""Quality gate: the whole dev gold set through the real default model at temperature 0."""

from __future__ import annotations

import pytest

from rag import evaluate

from .conftest import ROOT, SEEDS


@pytest.mark.real
def test_dev_set_quality_gate(real_pipeline, tmp_path, capsys):
    """Thresholds sit at or just under the scores measured when this gate was set (fact recall
    0.79, abstention accuracy 1.0, citation validity 1.0, no must-not hit), so a change that
    makes answers worse fails here. Fact recall is allowed one question's swing below the
    measured value, which is itself below the 0.80 the project aims for: see the README's
    "Known limits"."""
    gold = evaluate.load_gold(ROOT / "eval" / "dev.jsonl")
    report = evaluate.evaluate(gold, real_pipeline.ask, SEEDS, progress=False)
    evaluate.write_report(report, tmp_path)
    summary = report["summary"]
    with capsys.disabled():  # the summary belongs in the test output, pass or fail
        print("\ndev set:\n" + evaluate.summary_table(summary))
    assert set(summary) == set(evaluate.SUMMARY_KEYS)
    assert summary["citation_validity"] == 1.0
    assert summary["must_not_violations"] == 0
    assert summary["abstention_accuracy"] == 1.0
    assert summary["fact_recall"] >= 0.70
    assert summary["retrieval_source_recall"] >= 0.9
    assert not [q["answer"] for q in report["questions"] if "passage" in q["answer"].lower()]
