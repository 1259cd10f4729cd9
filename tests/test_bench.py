"""The benchmark: its summarising arithmetic, the table, and one real end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import bench
from rag.cli import build_parser
from rag.config import Settings
from rag.evaluate import load_gold

GENERATED = {
    "retrieve_ms": 100.0,
    "ttft_ms": 2100.0,
    "total_ms": 6100.0,
    "prompt_tokens": 1000,
    "cached_tokens": 60,
    "completion_tokens": 40,
    "decode_ms": 4000.0,
    "paused_ms": 900.0,
    "generate_ms": 6000.0,
}
EARLY_ABSTENTION = {"retrieve_ms": 30.0, "total_ms": 35.0}


def test_summary_median_and_p95():
    """Twenty values 1..20: the median sits between 10 and 11; p95 is at position 0.95 * 19 = 18.05
    of the sorted list, i.e. 5% of the way from 19 to 20 (linear interpolation, as in numpy)."""
    assert bench.summary(range(1, 21)) == {"median": 10.5, "p95": 19.05, "n": 20}


def test_summary_of_one_value_none_and_nothing():
    """One value is its own median and p95; None (an answer without that measure) is skipped,
    and with nothing left there is no number to report rather than a misleading 0."""
    assert bench.summary([7, None]) == {"median": 7.0, "p95": 7.0, "n": 1}
    assert bench.summary([None]) == {"median": None, "p95": None, "n": 0}


def test_per_second_and_ratio():
    """50 tokens in 2000 ms is 25/s; a zero duration or count has no rate; 9/s against 10/s is 0.9."""
    assert bench.per_second(50, 2000) == 25.0
    assert bench.per_second(50, 0) is None and bench.per_second(0, 100) is None
    assert bench.ratio(9.0, 10.0) == 0.9
    assert bench.ratio(None, 10.0) is None and bench.ratio(9.0, 0.0) is None


def test_our_row_from_answer_timings():
    """The prompt is evaluated between retrieval and the first token: 1000 tokens in 2100 - 100 ms
    is 500/s. Decoding is 40 tokens in 4000 ms, 10/s (the 900 ms of checks between tokens are
    reported apart). End to end 6100 ms is 6.1 s."""
    row = bench.our_row(GENERATED)
    assert row == {
        "retrieve_ms": 100.0,
        "total_s": 6.1,
        "prompt_tokens": 1000,
        "cached_tokens": 60,
        "completion_tokens": 40,
        "ttft_ms": 2100.0,
        "prompt_tokens_per_s": 500.0,
        "decode_tokens_per_s": 10.0,
        "paused_ms": 900.0,
    }


def test_early_abstention_counts_only_for_retrieval_and_latency():
    """An answer abstained before generation never reached the model: it has a retrieval time and
    a latency but no generation values, so it cannot drag the token rates down."""
    assert not bench.generated(EARLY_ABSTENTION)
    assert bench.our_row(EARLY_ABSTENTION) == {"retrieve_ms": 30.0, "total_s": 0.035}


def test_summarise_takes_ratios_of_medians():
    """Our prompt rates 500 and 300 (median 400) against baseline 500 and 300 (median 400): ratio 1.
    Our decode rates 10 and 6 (median 8) against 10 and 10: ratio 0.8. The early abstention
    adds to retrieval (n 3) but not to the rates (n 2)."""
    slow = GENERATED | {"ttft_ms": 3433.33333, "decode_ms": 6666.66667}  # 300/s and 6/s
    runs = [
        {"ours": bench.our_row(GENERATED), "baseline": bench.baseline_row(1000, 40, 2000, 4000)},
        {"ours": bench.our_row(slow), "baseline": bench.baseline_row(1000, 40, 3333.33333, 4000)},
        {"ours": bench.our_row(EARLY_ABSTENTION), "baseline": None},
    ]
    result = bench.summarise(runs)
    assert result["ours"]["retrieve_ms"]["n"] == 3
    assert result["ours"]["prompt_tokens_per_s"]["n"] == result["baseline"]["prompt_tokens_per_s"]["n"] == 2
    assert result["ratios"]["prompt_tokens_per_s"] == pytest.approx(1.0)
    assert result["ratios"]["decode_tokens_per_s"] == pytest.approx(0.8)
    assert set(result["ours"]) == set(bench.OURS) and set(result["baseline"]) == set(bench.BASELINE)


def test_baseline_size_follows_our_median_so_far():
    """Prompts of 900 and 1000 tokens have median 950; completions of 40 and 60, median 50. Early
    abstentions are ignored. Before any generation there is nothing to match. A prompt is kept
    inside the context window with room for the answer (2048 - 50 - 2 = 1996)."""
    rows = [
        {"prompt_tokens": 900, "completion_tokens": 40},
        {"retrieve_ms": 3.0},
        {"prompt_tokens": 1000, "completion_tokens": 60},
    ]
    assert bench.baseline_size(rows, 2048) == (950, 50)
    assert bench.baseline_size([{"retrieve_ms": 3.0}], 2048) is None
    assert bench.baseline_size([{"prompt_tokens": 5000, "completion_tokens": 50}], 2048) == (1996, 50)


def test_settings_env_rebuilds_the_same_settings(tmp_path):
    """The cold-start process reads only RAG_* variables, so they must reproduce every setting; a
    --model other than the configured one replaces it and drops llm_path, as ask(model=...) does."""
    settings = Settings.from_env({}, index_dir=tmp_path / "idx", llm_path=tmp_path / "m.gguf", top_k=3)
    assert Settings.from_env(bench.settings_env(settings)) == settings
    other = Settings.from_env(bench.settings_env(settings, "qwen2.5-coder-0.5b"))
    assert (other.llm_model, other.llm_path) == ("qwen2.5-coder-0.5b", None)
    assert Settings.from_env(bench.settings_env(settings, settings.llm_model)) == settings


def test_compare_divides_corpus_by_evidence_medians():
    fast = {"ttft_ms": {"median": 1000.0}, "total_s": {"median": 3.0}}
    slow = {"ttft_ms": {"median": 4000.0}, "total_s": {"median": 6.0}}
    by_mode = {"corpus": {"ours": fast}, "evidence": {"ours": slow}}
    assert bench.compare(by_mode) == {"ttft_ms": 0.25, "total_s": 0.5}
    assert bench.compare({"evidence": by_mode["evidence"]}) == {"ttft_ms": None, "total_s": None}


def test_format_table_shows_measures_ratios_and_gaps():
    """Every measure gets a row per strategy; a ratio that could not be computed shows as "-"."""
    runs = [{"ours": bench.our_row(GENERATED), "baseline": bench.baseline_row(1000, 40, 2500, 5000)}]
    corpus = bench.summarise(runs)
    corpus["ratios"]["decode_tokens_per_s"] = None
    result = {
        "strategies": {"corpus": corpus, "evidence": bench.summarise(runs)},
        "corpus_vs_evidence": {"ttft_ms": 0.25, "total_s": None},
        "prefix": {"tokens": 3300, "build_s": 40.0, "load_s": 0.4, "state_mb": 96.0},
        "cold_start_s": 30.0,
        "index": {"chunks": 40, "build_s": 4.0, "chunks_per_s": 10.0},
        "memory": {"peak_rss_mb": 2000.0, "cold_start_peak_rss_mb": 1900.0},
        "meta": {"model": "m", "threads": 2},
    }
    table = bench.format_table(result)
    assert "corpus median" in table and "evidence median" in table
    assert "prompt tok/s" in table and "baseline decode tok/s" in table and "end to end s" in table
    assert "corpus: ratio to raw llama.cpp   prompt 1.25   decode -" in table  # 500/s against 400/s
    assert "time to first token 0.25   end to end -" in table
    assert "3300 tokens, built in 40.0 s, loaded in 0.40 s, 96 MB" in table
    assert "40 chunks, 10.0 chunks/s" in table and "model: m · threads: 2" in table


def test_builds_alternate_and_are_compared_with_this_one(monkeypatch):
    """Two rounds: this build, the other, this, the other. The other decodes at 8 and 12 tok/s
    (median 10) against our 20: ratio 0.5. A crashed build reports its error, no speed."""
    import sys

    from rag import selfcheck

    calls = []
    speeds = {sys.executable: [(100, 20), (100, 20)], "/other/python": [(50, 8), (150, 12)]}

    def fake(python, path, threads):
        calls.append(python)
        if python == "/crashing/python":
            return {"error": "The generator crashed (SIGSEGV) on its first tokens"}
        prompt, decode = speeds[python][calls.count(python) - 1]
        return {"prompt_tps": prompt, "decode_tps": decode}

    monkeypatch.setattr(selfcheck, "build_speed", fake)
    out = bench.compare_builds(["/other/python", "/crashing/python"], Path("m.gguf"), 2, repeat=2)
    assert calls == [sys.executable, "/other/python", "/crashing/python"] * 2
    assert out["/other/python"]["decode_ratio"] == pytest.approx(0.5)
    assert out["/other/python"]["prompt_ratio"] == pytest.approx(1.0)
    crashed = out["/crashing/python"]
    assert "SIGSEGV" in crashed["error"] and crashed["decode_tokens_per_s"] is None


def test_bench_command_line():
    args = build_parser().parse_args(["bench", "--repeat", "2", "--limit", "3", "--out", "x.json"])
    assert (args.repeat, args.limit, args.out, args.model) == (2, 3, Path("x.json"), None)
    assert args.gold.name == "dev.jsonl"


@pytest.mark.real
def test_benchmark_end_to_end_on_one_question(tmp_path, real_pipeline):
    """One dev question, once: every field is present with a sensible type. No speed is asserted,
    the machine is shared and its speed varies several-fold."""
    gold_file = tmp_path / "gold.jsonl"
    gold_file.write_text(
        json.dumps(
            {
                "id": "d06",
                "question": "How long are the rare earth export licences valid?",
                "answerable": True,
                "facts": [],
                "sources": [],
            }
        )
        + "\n"
    )
    out = tmp_path / "results" / "bench.json"
    bench.write(bench.run(real_pipeline, load_gold(gold_file), repeat=1), out)
    result = json.loads(out.read_text())

    assert set(result) == {
        "format_version",
        "meta",
        "strategies",
        "corpus_vs_evidence",
        "prefix",
        "cold_start_s",
        "builds",
        "index",
        "memory",
        "runs",
    }
    meta = result["meta"]
    assert {"model", "threads", "n_ctx", "questions", "repeat", "timestamp", "cpu_count"} <= set(meta)
    assert (meta["questions"], meta["repeat"], meta["model"]) == (1, 1, real_pipeline.settings.llm_model)
    assert meta["threads"] >= 1 and meta["n_ctx"] >= 1024 and meta["cpu_count"] >= 1

    assert set(result["strategies"]) == {"corpus", "evidence"}  # the seeds fit the corpus budget
    for mode, strategy in result["strategies"].items():
        assert set(strategy["ours"]) == set(bench.OURS) and set(strategy["baseline"]) == set(bench.BASELINE)
        for side in ("ours", "baseline"):
            for name, s in strategy[side].items():
                assert s["n"] == 1, (mode, name)  # d06 reaches the model: every measure has its value
                assert s["median"] == s["p95"] > 0, (mode, name)
        ours, base = strategy["ours"], strategy["baseline"]
        assert base["prompt_tokens"]["median"] == ours["prompt_tokens"]["median"]  # same length
        assert base["cached_tokens"]["median"] == ours["cached_tokens"]["median"]  # after the same prefix
        assert base["completion_tokens"]["median"] == ours["completion_tokens"]["median"]
        assert ours["ttft_ms"]["median"] > ours["retrieve_ms"]["median"]
        assert all(r > 0 for r in strategy["ratios"].values())
    prompts = {m: s["ours"]["prompt_tokens"]["median"] for m, s in result["strategies"].items()}
    assert prompts["corpus"] < prompts["evidence"]  # the articles come from the cached prefix
    assert all(r > 0 for r in result["corpus_vs_evidence"].values())
    prefix = result["prefix"]
    assert prefix["tokens"] > 1000 and prefix["build_s"] > prefix["load_s"] > 0 and prefix["state_mb"] > 1

    assert result["cold_start_s"] > 0
    index = result["index"]
    assert index["documents"] == 5 and index["embedded"] == index["chunks"] > 0
    assert index["sentences"] >= index["chunks"] and index["build_s"] > 0 and index["chunks_per_s"] > 0
    assert result["memory"]["peak_rss_mb"] > 100 and result["memory"]["cold_start_peak_rss_mb"] > 100
    assert [(r["id"], r["repeat"], r["strategy"]) for r in result["runs"]] == [
        ("d06", 1, "corpus"),
        ("d06", 1, "evidence"),
    ]
    for run in result["runs"]:
        assert isinstance(run["abstained"], bool)
        assert run["baseline"]["prompt_tokens"] == run["timings"]["prompt_tokens"]


def test_decode_time_leaves_out_the_time_the_reader_held_the_stream():
    """The claim checks run between tokens; a lazy generator decodes nothing meanwhile, so that
    time is paused_ms, not decode time (a model server decodes ahead, so there it stays in)."""
    import time

    from .conftest import FakeGenerator

    def read_slowly(generator):
        stats = {}
        for _ in generator.stream([{"role": "user", "content": "q"}], stats=stats):
            time.sleep(0.05)
        return stats

    lazy = read_slowly(FakeGenerator("one two three four"))
    assert lazy["paused_ms"] >= 200 and lazy["decode_ms"] < 100
    eager = FakeGenerator("one two three four")
    eager.lazy = False
    assert read_slowly(eager)["decode_ms"] >= 150
