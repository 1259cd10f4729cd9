"""Another corpus (eval/corpora/port: an invented dock strike from four invented outlets),
through the real embedder, index, claim check and model: the checks hold on articles they
were not built on."""

from __future__ import annotations

import pytest

from rag.context import CorpusContext, Prompt

from .conftest import ROOT
from .test_eval_real import run

pytestmark = pytest.mark.real
PORT = ROOT / "eval" / "corpora" / "port"


@pytest.fixture(scope="module")
def port_pipeline(real_pipeline, tmp_path_factory):
    from rag.pipeline import Pipeline

    settings = real_pipeline.settings.with_(corpus_dir=PORT, index_dir=tmp_path_factory.mktemp("port-index"))
    return Pipeline(settings, embedder=real_pipeline.embedder, generator_factory=real_pipeline.generator)


def replayed(pipeline, question: str, raw: str):
    """The answer built from ``raw``, text the model once wrote in corpus mode (every article
    numbered in file order), checked against the whole corpus."""
    from rag.answer import AnswerBuilder

    retriever = pipeline.retriever
    units = CorpusContext(list(retriever.index.documents.values()), pipeline.generator(), None).units
    retrieval = retriever.retrieve(question, pipeline.settings.top_k, pipeline.settings.evidence_tokens)
    sources = pipeline._sources(retriever, retrieval, Prompt([], units, "corpus"))
    answer = AnswerBuilder(question, sources).finish(raw, "test", {})
    print(answer.to_markdown(), answer.warnings)
    return answer


def test_a_condition_does_not_stand_for_a_could(port_pipeline):
    """The model's answer to a question no article answers: the chamber's "could cost exporters
    … if it continues" became "has cost the national economy … if it continues". Its "if" made
    it look hedged and the claim check passed it (P(yes) 0.60)."""
    answer = replayed(
        port_pipeline,
        "How much has the strike cost the national economy in total?",
        "The strike has cost the national economy up to 40 million euros a week if it continues [2].",
    )
    assert answer.abstained and "40 million" not in answer.text
    assert "it states as fact what its quotes say only may be so" in answer.warnings[0]


def test_a_hint_to_the_wrong_article_does_not_sink_a_backed_claim(port_pipeline):
    """The model cited [1], the article saying the strike has not ended, and that hint made its
    sentence the quote: the claim lacked its date there and was dropped. Without the hint, the
    article that dates the walkout is quoted."""
    answer = replayed(
        port_pipeline,
        "When did the dockworkers' strike at the Port of Valmora begin?",
        "The strike began on June 2, 2025 [1].",
    )
    assert answer.text == "The strike began on June 2, 2025 [1]."
    assert "June 2" in answer.citations[0].quote and answer.citations[0].doc_id != "business_wire_exporters"


def test_port_set_quality_gate(port_pipeline, tmp_path, capsys):
    """Honesty is gated exactly, as on the seed sets; recall and abstention as measured when the
    set was written (see the README's evaluation section)."""
    summary = run(port_pipeline, "port", tmp_path, capsys, corpus=PORT)
    assert summary["citation_validity"] == 1.0
    assert summary["ungrounded_claims"] == 0
    assert summary["must_not_violations"] == 0
    assert summary["fact_recall"] >= 0.75
    assert summary["abstention_accuracy"] >= 0.8  # 0.92: "Which shipping company sued…?" gets true asides
