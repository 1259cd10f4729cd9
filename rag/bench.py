"""Benchmark: latency, throughput and memory of the assistant, beside raw llama.cpp on the same model.

``run(pipeline, gold)`` asks every gold question ``repeat`` times in each context strategy
(whole corpus as a cached prefix, and retrieved evidence; the corpus only when it fits
``corpus_tokens``). After each answer that reached the model it runs one baseline
generation (A B A B ...): the same already-loaded ``Llama``, after the same cached prefix, a
neutral prompt as long as that strategy's median prompt so far and exactly its median number of
completion tokens. Alternating exposes both to the same noise, so the ratios are the numbers to
compare between runs; the absolute ones move with the load on the machine.

The JSON written by ``write`` (``FORMAT_VERSION`` 2)::

    format_version
    meta          model, model_path, threads, n_ctx, questions, repeat, timestamp,
                  cpu_count, llama_cpp (version), gold (when given)
    strategies    per strategy ("corpus", "evidence"):
        ours      each {median, p95, n}; answers abstained before generation count only
                  in retrieve_ms and total_s:
                  retrieve_ms, prompt_tokens (read for this answer; a cached prefix is not),
                  cached_tokens (the cached prefix the answer reused),
                  completion_tokens, ttft_ms (question to first token, retrieval included),
                  prompt_tokens_per_s (prompt_tokens / (ttft_ms - retrieve_ms)),
                  decode_tokens_per_s (completion_tokens / decode_ms), paused_ms (the claim
                  checks run between tokens, while the model waits), total_s (end to end)
        baseline  each {median, p95, n}: prompt_tokens, cached_tokens, completion_tokens,
                  prompt_tokens_per_s, decode_tokens_per_s
        ratios    prompt_tokens_per_s, decode_tokens_per_s: median ours / median baseline
    corpus_vs_evidence  ttft_ms, total_s: median in corpus mode / median in evidence mode
    prefix        tokens, build_s (computed from nothing), load_s (from its saved file),
                  state_mb (the KV state, in memory and on disk); null when the corpus does not fit
    cold_start_s  new Python process to its first answer (index and prefix saved, files cached)
    builds        with --builds: per interpreter (this one first), the raw speed of its
                  llama-cpp-python build: prompt_tokens_per_s, decode_tokens_per_s (medians over
                  --repeat alternated rounds), prompt_ratio and decode_ratio to this build, error
    index         documents, chunks, embedded, sentences, build_s, chunks_per_s
                  (from scratch into a temporary folder; build_s includes the sentence vectors)
    memory        peak_rss_mb (this process), cold_start_peak_rss_mb (largest child process)
    runs          one row per answer: id, repeat, strategy, abstained, timings (Answer.timings),
                  ours (the values above), baseline (the values above, or null)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from .evaluate import decode_rate
from .kvprefix import common_prefix

FORMAT_VERSION = 2
NEUTRAL_TEXT = "The committee met on Tuesday and reviewed the schedule for the coming quarter. "
TOKENS = ("prompt_tokens", "cached_tokens", "completion_tokens")
RATES = ("prompt_tokens_per_s", "decode_tokens_per_s")
BASELINE = (*TOKENS, *RATES)
OURS = ("retrieve_ms", *TOKENS, "ttft_ms", *RATES, "paused_ms", "total_s")
COLD_START = (
    "import sys, rag\n"
    "from rag.config import Settings\n"
    "from rag.pipeline import Pipeline\n"
    "Pipeline(Settings.from_env()).ask(sys.argv[1])\n"
)
log = logging.getLogger(__name__)


# -- pure functions --------------------------------------------------------------


def summary(values) -> dict:
    """Median and 95th percentile (linear interpolation) of the values that are not None.

    ``[1, 2, ..., 20]`` -> ``{"median": 10.5, "p95": 19.05, "n": 20}``; ``[]`` -> Nones and n 0.
    """
    kept = [float(v) for v in values if v is not None]
    if not kept:
        return {"median": None, "p95": None, "n": 0}
    median, p95 = np.percentile(kept, [50, 95])
    return {"median": float(median), "p95": float(p95), "n": len(kept)}


def per_second(count: float | None, ms: float | None) -> float | None:
    """``count`` per second over ``ms`` milliseconds: ``(50, 2000) -> 25.0``; None if either is 0 or None."""
    return count / (ms / 1000) if count and ms and ms > 0 else None


def generated(timings: dict) -> bool:
    """True when the answer reached the model (an early abstention has no ttft_ms)."""
    return timings.get("ttft_ms") is not None and bool(timings.get("prompt_tokens"))


def our_row(timings: dict) -> dict:
    """The per-answer values behind ``ours``; generation values are None for early abstentions."""
    row = {"retrieve_ms": timings.get("retrieve_ms"), "total_s": (timings.get("total_ms") or 0) / 1000}
    if generated(timings):
        row |= {
            "prompt_tokens": timings["prompt_tokens"],
            "cached_tokens": timings.get("cached_tokens"),
            "completion_tokens": timings.get("completion_tokens"),
            "ttft_ms": timings["ttft_ms"],
            "prompt_tokens_per_s": per_second(
                timings["prompt_tokens"], timings["ttft_ms"] - (timings.get("retrieve_ms") or 0)
            ),
            "decode_tokens_per_s": decode_rate(timings),
            "paused_ms": timings.get("paused_ms"),
        }
    return row


def baseline_row(
    prompt_tokens: int, completion_tokens: int, prefill_ms: float, decode_ms: float, cached_tokens: int = 0
) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "cached_tokens": cached_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_per_s": per_second(prompt_tokens, prefill_ms),
        "decode_tokens_per_s": per_second(completion_tokens, decode_ms),
    }


def ratio(ours: float | None, baseline: float | None) -> float | None:
    """``ours / baseline``, or None when either is missing or the baseline is 0: ``(9, 10) -> 0.9``."""
    return ours / baseline if ours is not None and baseline else None


def summarise(runs: list[dict]) -> dict:
    """``ours``, ``baseline`` and ``ratios`` from the run rows (see the module docstring)."""
    ours = {k: summary(r["ours"].get(k) for r in runs) for k in OURS}
    base = {k: summary(r["baseline"][k] for r in runs if r["baseline"]) for k in BASELINE}
    ratios = {k: ratio(ours[k]["median"], base[k]["median"]) for k in RATES}
    return {"ours": ours, "baseline": base, "ratios": ratios}


def compare(by_mode: dict) -> dict:
    """Median time to first token and end to end, corpus mode over evidence mode (None without both)."""
    if not {"corpus", "evidence"} <= set(by_mode):
        return {"ttft_ms": None, "total_s": None}
    return {
        k: ratio(by_mode["corpus"]["ours"][k]["median"], by_mode["evidence"]["ours"][k]["median"])
        for k in ("ttft_ms", "total_s")
    }


def baseline_size(rows: list[dict], n_ctx: int) -> tuple[int, int] | None:
    """Prompt and completion tokens for the next baseline: the medians of our answers so far.

    ``[{"prompt_tokens": 900, "completion_tokens": 40}, {"prompt_tokens": 1000, ...: 60}]``
    -> ``(950, 50)``; None before any answer reached the model. Kept inside ``n_ctx``.
    """
    done = [r for r in rows if r.get("prompt_tokens")]
    if not done:
        return None
    completion = max(1, round(float(np.median([r["completion_tokens"] or 0 for r in done]))))
    prompt = round(float(np.median([r["prompt_tokens"] for r in done])))
    return max(1, min(prompt, n_ctx - completion - 2)), completion


def settings_env(settings, model: str | None = None) -> dict[str, str]:
    """``RAG_*`` variables that rebuild ``settings`` in another process; ``model`` replaces the LLM
    (and, like ``ask(model=...)``, any ``llm_path``, unless it names the configured model)."""
    values = dataclasses.asdict(settings)
    if model and model != settings.llm_model:
        values |= {"llm_model": model, "llm_path": None}
    return {f"RAG_{k.upper()}": str(v) for k, v in values.items() if v is not None}


def _num(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


LABELS = {
    "retrieve_ms": "retrieval ms",
    "prompt_tokens": "prompt tokens",
    "cached_tokens": "cached prefix tokens",
    "completion_tokens": "completion tokens",
    "ttft_ms": "time to first token ms",
    "prompt_tokens_per_s": "prompt tok/s",
    "decode_tokens_per_s": "decode tok/s",
    "paused_ms": "checks between tokens ms",
    "total_s": "end to end s",
}


def format_table(result: dict) -> str:
    """The terminal table: median and p95 of each measure per strategy, then ratios and one-offs."""
    modes = list(result["strategies"])
    lines = ["".join([f"{'':28}", *(f"{m + ' median':>17}{'p95':>9}{'n':>4}" for m in modes)])]
    for side, prefix in (("ours", ""), ("baseline", "baseline ")):
        for key, label in LABELS.items():
            cells = [result["strategies"][m][side].get(key) for m in modes]
            if any(c is not None for c in cells):
                row = "".join(f"{_num(c['median']):>17}{_num(c['p95']):>9}{c['n']:>4}" for c in cells)
                lines.append(f"{prefix + label:28}{row}")
    lines.append("")
    for m in modes:
        r = result["strategies"][m]["ratios"]
        lines.append(
            f"{m}: ratio to raw llama.cpp   prompt {_num(r['prompt_tokens_per_s'], 2)}"
            f"   decode {_num(r['decode_tokens_per_s'], 2)}"
        )
    cmp, pre, ix, mem = result["corpus_vs_evidence"], result["prefix"], result["index"], result["memory"]
    lines.append(
        f"corpus / evidence                  time to first token {_num(cmp['ttft_ms'], 2)}"
        f"   end to end {_num(cmp['total_s'], 2)}"
    )
    if pre:
        lines.append(
            f"cached prefix                      {pre['tokens']} tokens, built in {_num(pre['build_s'])} s,"
            f" loaded in {_num(pre['load_s'], 2)} s, {_num(pre['state_mb'], 0)} MB"
        )
    for py, b in (result.get("builds") or {}).items():
        speed = b["error"] or (
            f"prompt {_num(b['prompt_tokens_per_s'])} tok/s ({_num(b['prompt_ratio'], 2)}),"
            f" decode {_num(b['decode_tokens_per_s'])} tok/s ({_num(b['decode_ratio'], 2)})"
        )
        lines.append(f"raw build {py}: {speed}")
    lines += [
        f"cold start to first answer         {_num(result['cold_start_s'])} s",
        f"index build from scratch           {_num(ix['build_s'])} s"
        f" ({ix['chunks']} chunks, {_num(ix['chunks_per_s'])} chunks/s)",
        f"peak memory                        {_num(mem['peak_rss_mb'], 0)} MB"
        f" (cold-start process {_num(mem['cold_start_peak_rss_mb'], 0)} MB)",
        " · ".join(f"{k}: {v}" for k, v in result["meta"].items()),
    ]
    return "\n".join(lines)


# -- measuring (I/O) -------------------------------------------------------------


def neutral_prompt(llm, n_tokens: int) -> list[int]:
    """Exactly ``n_tokens`` tokens of repeated neutral text."""
    text, tokens = NEUTRAL_TEXT, []
    while len(tokens) < n_tokens:
        text *= 2
        tokens = llm.tokenize(text.encode(), add_bos=False)
    return tokens[:n_tokens]


def run_baseline(generator, prompt_tokens: int, completion_tokens: int) -> dict:
    """Raw ``Llama.generate`` on the pipeline's loaded model, greedy, at the same depth as ours.

    The prompt is the pinned prefix (the corpus, or the evidence mode's system prompt) followed
    by ``prompt_tokens`` of neutral text; llama-cpp-python's own prefix matching reuses the
    prefix's KV state, so only the neutral text is read, and every new token attends over as
    many tokens as one of our answers does. Our decode time runs from the first token to the end
    of the stream, which evaluates every answer token (the last one to sample end-of-text), so
    the baseline takes one token more and counts ``completion_tokens``: both then time the same
    number of evaluations.
    """
    loaded = generator._loaded()
    llm, lock = loaded.llm, loaded.lock
    with lock:
        loaded.prefix.restore(loaded.prefix.tokens)
        tokens = loaded.prefix.tokens + neutral_prompt(llm, prompt_tokens)
        cached = common_prefix(llm._input_ids.tolist(), tokens)
        started = time.perf_counter()
        first = None
        for n, _ in enumerate(llm.generate(tokens, top_k=1, temp=0.0, reset=True), 1):
            first = first or time.perf_counter()
            if n > completion_tokens:
                break
        ended = time.perf_counter()
    return baseline_row(
        prompt_tokens, completion_tokens, (first - started) * 1000, (ended - first) * 1000, cached
    )


def build_index(settings, embedder) -> dict:
    """Build the corpus index from scratch into a temporary folder and time it."""
    from .index import open_index

    embedder.embed(["warm up"])  # the build is timed, not loading the embedder
    with tempfile.TemporaryDirectory(prefix="rag-bench-index-") as tmp:
        index, report = open_index(
            settings.with_(index_dir=Path(tmp)), embedder, rebuild=True, progress=False
        )
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "sentences": len(index.sentences),
        "build_s": report.seconds,
        "chunks_per_s": per_second(report.embedded, report.seconds * 1000),
    }


def cold_start(settings, question: str, model: str | None = None) -> float:
    """Seconds from starting a new Python process to its first answer, timed from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | settings_env(settings, model)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", COLD_START, question], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the cold-start process failed:\n{done.stderr[-2000:]}")
    return seconds


def peak_rss_mb(who: int) -> float:
    """Peak resident memory in MB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(who).ru_maxrss / 1024


def strategies(pipeline, model: str | None) -> dict:
    """A pipeline per context strategy, sharing the embedder and the loaded generator; the
    corpus one only when the corpus fits ``corpus_tokens``."""
    from .pipeline import Pipeline

    def share(mode: str):
        return Pipeline(
            pipeline.settings.with_(context=mode),
            embedder=pipeline.embedder,
            generator_factory=lambda name: pipeline.generator(name),
        )

    fits = share("auto").context(model).mode == "corpus"
    return {mode: share(mode) for mode in (("corpus", "evidence") if fits else ("evidence",))}


def prefix_costs(corpus_pipeline, model: str | None) -> dict:
    """Compute the corpus prefix from nothing, then load it from its file, into a temporary folder."""
    generator = corpus_pipeline.generator(model)
    system = [corpus_pipeline.context(model).system]
    with tempfile.TemporaryDirectory(prefix="rag-bench-prefix-") as tmp:
        generator.unpin()
        built = generator.pin(system, Path(tmp) / "prefix")
        generator.unpin()
        loaded = generator.pin(system, Path(tmp) / "prefix")
    generator.unpin()
    return {
        "tokens": built.tokens,
        "build_s": built.seconds,
        "load_s": loaded.seconds,
        "state_mb": built.state_mb,
    }


def compare_builds(pythons: list[str], path: Path, threads: int, repeat: int) -> dict:
    """Raw speed of each llama-cpp-python build (one interpreter each; this one first), alternated
    round by round so that all share the machine's noise: medians, and ratios to this build."""
    from .selfcheck import build_speed

    builds = [sys.executable, *pythons]
    rows: dict[str, list[dict]] = {py: [] for py in builds}
    for _ in range(repeat):
        for py in builds:
            rows[py].append(build_speed(py, path, threads))
    out = {}
    for py, results in rows.items():
        errors = [r["error"] for r in results if "error" in r]
        prompt = summary(r.get("prompt_tps") for r in results)["median"]
        decode = summary(r.get("decode_tps") for r in results)["median"]
        out[py] = {
            "prompt_tokens_per_s": prompt,
            "decode_tokens_per_s": decode,
            "error": errors[0] if errors else None,
        }
    ours = out[sys.executable]
    for row in out.values():
        row["prompt_ratio"] = ratio(row["prompt_tokens_per_s"], ours["prompt_tokens_per_s"])
        row["decode_ratio"] = ratio(row["decode_tokens_per_s"], ours["decode_tokens_per_s"])
    return out


def run(
    pipeline,
    gold: list[dict],
    *,
    repeat: int = 1,
    model: str | None = None,
    meta: dict | None = None,
    builds: list[str] = (),
):
    """Benchmark ``pipeline`` on the gold questions; returns the result described in the module docstring."""
    if repeat < 1 or not gold:
        raise ValueError("The benchmark needs at least one question and --repeat of 1 or more.")
    import llama_cpp

    generator = pipeline.generator(model)
    if not hasattr(generator, "_loaded"):
        raise ValueError("The baseline needs the llama.cpp generator; this pipeline uses another one.")
    index = build_index(pipeline.settings, pipeline.embedder)
    pipelines = strategies(pipeline, model)
    prefix = prefix_costs(pipelines["corpus"], model) if "corpus" in pipelines else None
    runs: list[dict] = []
    for r in range(1, repeat + 1):
        for item in gold:
            for mode, p in pipelines.items():
                p.context(model).prepare()  # as in a process that uses this strategy alone
                answer = p.ask(item["question"], model=model)
                row = our_row(answer.timings)
                done = [x["ours"] for x in runs if x["strategy"] == mode] + [row]
                size = baseline_size(done, generator.n_ctx)
                base = run_baseline(generator, *size) if generated(answer.timings) and size else None
                runs.append(
                    {"id": item["id"], "repeat": r, "strategy": mode, "abstained": answer.abstained}
                    | {"timings": dict(answer.timings), "ours": row, "baseline": base}
                )
                log.info("%s #%d %s: %.1f s", item["id"], r, mode, row["total_s"])
    cold = cold_start(pipeline.settings, gold[0]["question"], model)
    other_builds = (
        compare_builds(list(builds), generator.path, generator.n_threads, repeat) if builds else None
    )
    by_mode = {mode: summarise([x for x in runs if x["strategy"] == mode]) for mode in pipelines}
    return {
        "format_version": FORMAT_VERSION,
        "meta": {
            "model": generator.name,
            "model_path": str(generator.path),
            "threads": generator.n_threads,
            "n_ctx": generator.n_ctx,
            "questions": len(gold),
            "repeat": repeat,
            "timestamp": datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(),
            "llama_cpp": llama_cpp.__version__,
        }
        | (meta or {}),
        "strategies": by_mode,
        "corpus_vs_evidence": compare(by_mode),
        "prefix": prefix,
        "cold_start_s": cold,
        "builds": other_builds,
        "index": index,
        "memory": {
            "peak_rss_mb": peak_rss_mb(resource.RUSAGE_SELF),
            "cold_start_peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
        },
        "runs": runs,
    }


def write(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
