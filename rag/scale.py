"""The scale benchmark: index a synthetic corpus of N generated articles and time retrieval.

``rag scale N`` writes N articles into a temporary folder (never into the project),
builds the index from scratch with the configured embedder and reports build
throughput, index size on disk, memory and retrieval latency. It then tiles the
real chunk vectors (plus noise) up to ``simulate`` chunks to time flat FAISS at a
size the machine cannot embed in minutes, and measures the approximate (HNSW)
index's recall@10 against flat search at both sizes.

Articles are templated sentences filled with entities, dates and numbers drawn
from ``random.Random(f"{seed}-{i}")``: article ``i`` is the same for every N, so
the 1,000-article corpus is the first tenth of the 10,000-article one.
"""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .config import Settings
from .embedder import Embedder

K = 10  # recall@K and the latency of a top-K search
LATENCY_LIMIT_MS = 50.0  # flat search p95 above this calls for an approximate index (the bar)
EF_SEARCH = (16, 64, 128)  # HNSW search depths tried: FAISS's default, ours (index.HNSW_EF_SEARCH), deeper
NOISE = 0.015  # per-dimension noise of tiled vectors: a copy keeps cosine ~0.96 with its original (384 dims)

COUNTRIES = (
    "Norway Chile Peru Brazil Canada Kenya Ghana Vietnam Indonesia Australia Japan Korea Mexico Poland "
    "Spain Portugal Egypt Morocco Turkey India Germany France Italy Sweden Finland Argentina Bolivia "
    "Zambia Namibia Mongolia"
).split()
CITIES = (
    "Oslo Santiago Lima Recife Halifax Mombasa Accra Haiphong Surabaya Perth Osaka Busan Monterrey Gdansk "
    "Valencia Porto Alexandria Tangier Izmir Chennai Hamburg Lyon Genoa Gothenburg Tampere Rosario Potosi "
    "Ndola Walvis Darkhan"
).split()
COMMODITIES = (
    "gallium germanium lithium cobalt nickel copper graphite tungsten antimony manganese vanadium "
    "neodymium zinc tin bauxite"
).split()
NAME_PARTS = (
    "Nord Terra Pacific Atlas Vega Orion Delta Summit Harbor Granite Silver Aurora Crest Polar "
    "Meridian Falcon"
).split()
NAME_ENDS = "Metals Mining Resources Minerals Holdings Industries Refining Energy".split()
FIRST = "Anna Ben Carla David Elena Farid Grace Hugo Ines Jonas Kofi Lena Marco Nadia Omar Priya".split()
LAST = "Berg Costa Diallo Eriksen Fischer Garcia Haddad Ito Jensen Kowalski Lund Mensah Novak Okafor".split()
OUTLETS = (
    "The Harbour Gazette",
    "Metals Daily",
    "The Continental Post",
    "Trade Ledger",
    "The Morning Courier",
    "Resource Weekly",
)
MONTHS = "January February March April May June July August September October November December".split()
BODY = (
    "{company} said it would invest {money} million dollars in a new {commodity} plant near {city}.",
    "Officials in {country} expect exports of {commodity} to rise by {pct} percent next year.",
    "{person}, a trade minister, told reporters the talks in {city} had been constructive.",
    "Prices of {commodity} fell {pct} percent on {weekday} after the announcement.",
    "The ministry of {country} will review {num} export licences before {month}.",
    "Analysts at {company} warned that shortages could last until {year}.",
    "Shipments from {city} to {country} were delayed by {num} days in {month}.",
    "{person} said the agreement would create about {jobs} jobs in {country}.",
    "The deal follows months of negotiations between {country} and {country2}.",
    "Customs data showed {num} tonnes of {commodity} left {city} in {month}.",
    "{company} shares rose {pct} percent in early trading.",
    "Environmental groups in {country} asked for a review of the {city} project.",
)
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday".split()


def article(i: int, seed: int = 0) -> tuple[str, str, str]:
    """Article ``i``: ``(text, question, answer)``; the question is answered by its key sentence only.

    Deterministic: ``article(7)`` is the same text in every run and for every corpus size.
    """
    rng = random.Random(f"{seed}-{i}")
    company = f"{rng.choice(NAME_PARTS)} {rng.choice(NAME_PARTS)} {rng.choice(NAME_ENDS)}"
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    country, country2 = rng.sample(COUNTRIES, 2)
    city, commodity = rng.choice(CITIES), rng.choice(COMMODITIES)
    year = rng.randint(2019, 2026)
    tonnes = rng.randint(12, 9_800)
    names = {"company": company, "person": person, "country": country, "country2": country2, "city": city}
    names |= {"commodity": commodity, "year": year + 1}

    def fill(template: str) -> str:  # fresh numbers and dates for every sentence
        return template.format(
            **names,
            month=rng.choice(MONTHS),
            weekday=rng.choice(WEEKDAYS),
            money=rng.randint(5, 900),
            pct=rng.randint(2, 40),
            num=rng.randint(3, 250),
            jobs=rng.randint(50, 5_000),
        )

    key = f"{company} agreed to ship {tonnes:,} tonnes of {commodity} from {city} to {country2}."
    body = [fill(t) for t in rng.sample(BODY, rng.randint(4, 7))]
    body.insert(rng.randint(0, len(body)), key)
    headline = f"{company} signs {commodity} deal with {country2}"
    dateline = f"{rng.choice(OUTLETS)} · {rng.choice(MONTHS)} {rng.randint(1, 28)}, {year}"
    text = "\n".join([headline, dateline, "", *body]) + "\n"
    question = f"How many tonnes of {commodity} will {company} ship from {city} to {country2}?"
    return text, question, f"{tonnes:,} tonnes"


def doc_id(i: int) -> str:
    """The document id of generated article ``i``: ``doc_id(7) == "a000007"``."""
    return f"a{i:06d}"


def write_corpus(folder: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Write articles ``0 .. n-1`` as ``<folder>/<doc_id(i)>.txt``; return ``(doc_id, question)``
    per article."""
    folder.mkdir(parents=True, exist_ok=True)
    questions = []
    for i in range(n):
        text, question, _ = article(i, seed)
        (folder / f"{doc_id(i)}.txt").write_text(text, encoding="utf-8")
        questions.append((doc_id(i), question))
    return questions


def mix_corpus(corpus_dir: Path, folder: Path, n: int, seed: int = 0) -> Path:
    """A copy of ``corpus_dir``'s article files in ``folder`` with articles ``0 .. n-1``
    beside them: the same questions, asked among many articles they are not about."""
    folder.mkdir(parents=True, exist_ok=True)
    taken = set()
    for path in sorted(Path(corpus_dir).iterdir()):
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, folder / path.name)
            taken.add(path.stem)
    clash = sorted(taken & {doc_id(i) for i in range(n)})
    if clash:
        raise ValueError(f"the corpus already has articles named like generated ones: {', '.join(clash[:3])}")
    write_corpus(folder, n, seed)
    return folder


# -- measurements ---------------------------------------------------------------------


def memory_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak, in MB."""
    now = peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        status = Path("/proc/self/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        now, peak = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    except (OSError, KeyError, ValueError):
        pass
    return {"rss_mb": round(now, 1), "peak_rss_mb": round(peak, 1)}


def percentiles(ms: list[float]) -> dict[str, float]:
    """``[1, 2, ..., 100]`` -> ``{"p50": 50.5, "p95": 95.05}`` (linear interpolation)."""
    return {"p50": round(float(np.percentile(ms, 50)), 3), "p95": round(float(np.percentile(ms, 95)), 3)}


def time_search(index, queries: np.ndarray, k: int = K) -> tuple[dict[str, float], np.ndarray]:
    """Latency percentiles of one-query searches, and the ids each returned."""
    times, ids = [], []
    for q in queries:
        started = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - started) * 1000)
        ids.append(found[0])
    return percentiles(times), np.array(ids)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-k that the approximate search also returned, over all queries."""
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return round(hits / truth.size, 4)


def compare_indexes(vectors: np.ndarray, queries: np.ndarray) -> tuple[dict, np.ndarray]:
    """Flat search on every usable core and on one thread (as the index searches), then HNSW
    (the index ``--index-type hnsw`` builds) at several ``efSearch`` depths, over the same
    vectors; also the exact top-k ids of each query."""
    import faiss

    from .index import SEARCH_THREADS, make_faiss

    flat = make_faiss(vectors, "flat")
    cores = len(os.sched_getaffinity(0))
    faiss.omp_set_num_threads(cores)
    flat_ms, truth = time_search(flat, queries)
    faiss.omp_set_num_threads(SEARCH_THREADS)  # as VectorIndex.search does
    flat_one_ms, _ = time_search(flat, queries)
    started = time.perf_counter()
    hnsw = make_faiss(vectors, "hnsw")
    build_s = time.perf_counter() - started
    approximate = {}
    for ef in EF_SEARCH:
        hnsw.hnsw.efSearch = ef
        ms, found = time_search(hnsw, queries)
        approximate[f"ef{ef}"] = {"ms": ms, "recall_at_10": recall_at_k(found, truth)}
    figures = {
        "vectors": len(vectors),
        "flat_ms": flat_ms,
        "flat_threads": cores,
        "flat_one_thread_ms": flat_one_ms,
        "hnsw_build_s": round(build_s, 2),
        "hnsw": approximate,
    }
    return figures, truth


def tiled(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors: copies of ``vectors`` with Gaussian noise, standing in for a larger corpus."""
    rng = np.random.default_rng(seed)
    out = vectors[np.arange(n) % len(vectors)] + rng.normal(0, NOISE, (n, vectors.shape[1])).astype(
        np.float32
    )
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def run(
    n: int,
    settings: Settings,
    embedder: Embedder,
    *,
    queries: int = 200,
    simulate: int = 100_000,
    seed: int = 0,
    workdir: Path | None = None,
    progress: bool = True,
) -> dict:
    """Generate, index and measure; every number lands in the returned dict (see the README)."""
    from .index import open_index
    from .pipeline import Pipeline

    if n < 1:
        raise ValueError("the corpus needs at least one article")
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="rag-scale-")) if own else Path(workdir)
    try:
        embedder.embed(["warm up"])  # load the model before measuring
        before = memory_mb()
        asked = write_corpus(work / "corpus", n, seed)
        settings = settings.with_(corpus_dir=work / "corpus", index_dir=work / "index")
        started = time.perf_counter()
        index, report = open_index(settings, embedder, rebuild=True, progress=progress)
        build_s = time.perf_counter() - started
        built = memory_mb()
        sample = asked[:: max(1, n // queries)][:queries]
        query_vectors = embedder.embed([q for _, q in sample])
        approximate, ids = compare_indexes(index.vectors, query_vectors)
        docs = [{index.chunks[i].doc_id for i in row if i >= 0} for row in ids]
        found = sum(wanted in d for (wanted, _), d in zip(sample, docs, strict=True))
        simulated = None
        if simulate > report.chunks:
            simulated = compare_indexes(tiled(index.vectors, simulate, seed), query_vectors)[0]
        sentences = len(index.sentences)
        del index, ids, docs  # serving memory is measured with the reopened index only
        gc.collect()

        pipeline = Pipeline(settings, embedder=embedder)
        started = time.perf_counter()
        retriever = pipeline.retriever  # reopens the stored index and builds the hybrid retriever
        open_s = time.perf_counter() - started
        times = []
        for _, question in sample[:50]:
            started = time.perf_counter()
            retriever.retrieve(question, settings.top_k, settings.evidence_tokens)
            times.append((time.perf_counter() - started) * 1000)
        result = {
            "articles": n,
            "chunks": report.chunks,
            "sentences": sentences,
            "embedder": embedder.name,
            "build_s": round(build_s, 2),
            "articles_per_s": round(n / build_s, 2),
            "chunks_per_s": round(report.chunks / build_s, 2),
            "index_bytes": disk_bytes(work / "index" / "current"),
            "memory": {"before_build": before, "after_build": built, "serving": memory_mb()},
            "open_s": round(open_s, 2),
            "queries": len(sample),
            "flat_ms": approximate["flat_ms"],
            "flat_one_thread_ms": approximate["flat_one_thread_ms"],
            "key_article_in_top10": round(found / len(sample), 4),
            "retrieve_ms": percentiles(times),
            "approximate": approximate,
        }
        if simulated:
            result["simulated"] = simulated
        result["extrapolated_100k_chunks"] = extrapolate(result, 100_000)
        return result
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def extrapolate(result: dict, chunks: int) -> dict:
    """Build time and disk grow linearly with chunks. Flat search latency is the one measured
    on ``chunks`` tiled vectors when there is one, else linear too (it scans every vector)."""
    scale = chunks / result["chunks"]
    simulated = result.get("simulated") or {}
    measured = simulated.get("vectors") == chunks
    flat = {
        key: simulated[key]["p95"] if measured else round(result[key]["p95"] * scale, 2)
        for key in ("flat_ms", "flat_one_thread_ms")
    }
    return {
        "chunks": chunks,
        "articles": round(result["articles"] * scale),
        "build_min": round(result["build_s"] * scale / 60, 1),
        "index_mb": round(result["index_bytes"] * scale / 1e6, 1),
        "flat_p95_ms": flat["flat_ms"],
        "flat_one_thread_p95_ms": flat["flat_one_thread_ms"],
        "flat_p95_measured": measured,
        "flat_over_limit": min(flat.values()) > LATENCY_LIMIT_MS,
    }


def format_table(result: dict) -> str:
    """The figures of ``run`` as aligned lines for the terminal."""
    m = result["memory"]
    rows = [
        (
            "articles / chunks / sentences",
            f"{result['articles']:,} / {result['chunks']:,} / {result['sentences']:,}",
        ),
        (
            "build",
            f"{result['build_s']:.1f} s: {result['articles_per_s']:.1f} articles/s, "
            f"{result['chunks_per_s']:.1f} chunks/s",
        ),
        ("index on disk", f"{result['index_bytes'] / 1e6:.1f} MB"),
        (
            "memory (RSS)",
            f"{m['before_build']['rss_mb']:.0f} MB before, {m['after_build']['peak_rss_mb']:.0f} MB "
            f"peak, {m['serving']['rss_mb']:.0f} MB serving",
        ),
        ("open index + retriever", f"{result['open_s']:.1f} s"),
        ("flat search top-10", _ms(result["flat_ms"])),
        ("key article in top 10", f"{result['key_article_in_top10']:.1%} of {result['queries']} questions"),
        ("hybrid retrieve", _ms(result["retrieve_ms"])),
    ]
    for label, cmp in (("", result["approximate"]), ("simulated ", result.get("simulated"))):
        if cmp:
            rows.append(
                (
                    f"{label}{cmp['vectors']:,} vectors, flat",
                    f"{_ms(cmp['flat_ms'])} ({cmp['flat_threads']} threads); "
                    f"{_ms(cmp['flat_one_thread_ms'])} (1 thread)",
                )
            )
            for ef, h in cmp["hnsw"].items():
                rows.append(
                    (
                        f"  hnsw {ef} (built in {cmp['hnsw_build_s']} s)",
                        f"{_ms(h['ms'])}, recall@10 {h['recall_at_10']:.3f}",
                    )
                )
    x = result["extrapolated_100k_chunks"]
    over = f" (over {LATENCY_LIMIT_MS:.0f} ms: use --index-type hnsw)" if x["flat_over_limit"] else ""
    rows.append(
        (
            "extrapolated to 100k chunks",
            f"~{x['articles']:,} articles, build {x['build_min']} min, "
            f"{x['index_mb']} MB, flat p95 {x['flat_p95_ms']} ms, "
            f"{x['flat_one_thread_p95_ms']} ms on 1 thread" + over,
        )
    )
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _ms(p: dict) -> str:
    return f"p50 {p['p50']:.2f} ms, p95 {p['p95']:.2f} ms"


def write(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
