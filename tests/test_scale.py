"""The scale benchmark's generator and measurements, on a tiny corpus with the fake embedder."""

from __future__ import annotations

import numpy as np
import pytest

from rag import scale
from rag.config import Settings

from .conftest import SEEDS, FakeEmbedder


def test_articles_are_deterministic_and_answer_their_question():
    """Article i depends only on (seed, i): the small corpus is a prefix of the large one."""
    text, question, answer = scale.article(7)
    assert scale.article(7) == (text, question, answer) and scale.article(7, seed=1)[0] != text
    assert answer in text and 6 <= len(text.splitlines()) <= 11
    assert question.startswith("How many tonnes of") and question.endswith("?")


def test_recall_and_percentiles():
    """recall@k counts shared ids: 3 of the 4 exact ids were found."""
    assert scale.recall_at_k(np.array([[1, 2], [3, 9]]), np.array([[1, 2], [3, 4]])) == 0.75
    assert scale.percentiles([float(i) for i in range(1, 101)]) == {"p50": 50.5, "p95": 95.05}


def test_tiled_vectors_are_unit_length():
    base = np.eye(3, dtype=np.float32)
    out = scale.tiled(base, 10)
    assert out.shape == (10, 3) and np.allclose(np.linalg.norm(out, axis=1), 1.0)


def test_run_reports_every_figure(tmp_path):
    result = scale.run(
        20, Settings(), FakeEmbedder(), queries=10, simulate=500, workdir=tmp_path / "work", progress=False
    )
    assert (result["articles"], result["queries"]) == (20, 10)
    assert result["chunks"] >= 20 and result["index_bytes"] > 0
    assert result["key_article_in_top10"] == 1.0  # each question names its article's company and city
    assert result["simulated"]["vectors"] == 500 and set(result["simulated"]["hnsw"]) == {
        "ef16",
        "ef64",
        "ef128",
    }
    assert result["memory"]["after_build"]["peak_rss_mb"] > 0
    assert result["extrapolated_100k_chunks"]["chunks"] == 100_000
    assert "extrapolated to 100k chunks" in scale.format_table(result)
    assert (
        len(list((tmp_path / "work" / "corpus").glob("*.txt"))) == 20
    )  # generated under tmp, never committed


def test_a_mixed_corpus_is_the_corpus_beside_generated_articles(tmp_path):
    mixed = scale.mix_corpus(SEEDS, tmp_path / "mixed", 3)
    seeds = sorted(p.name for p in SEEDS.iterdir() if p.is_file())
    assert sorted(p.name for p in mixed.iterdir()) == sorted(
        [*seeds, "a000000.txt", "a000001.txt", "a000002.txt"]
    )
    assert all((mixed / name).read_bytes() == (SEEDS / name).read_bytes() for name in seeds)
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "a000001.txt").write_text("An article of the user's own.\n")
    with pytest.raises(ValueError, match="a000001"):
        scale.mix_corpus(tmp_path / "own", tmp_path / "clash", 3)
