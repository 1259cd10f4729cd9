"""The ``rag`` command line: parses input, calls into ``rag``, prints the result."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from .config import ROOT, Settings, converter


def _settings_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per settings field, so every setting is also a CLI option."""
    group = parser.add_argument_group("settings (each also read from RAG_<NAME>)")
    for f in dataclasses.fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        group.add_argument(
            flag, dest=f"set_{f.name}", type=converter(f.name), default=None, help=f.metadata.get("help")
        )
    group.add_argument(
        "--corpus", dest="set_corpus_dir", type=Path, default=None, help="alias of --corpus-dir"
    )


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("set_")}
    return Settings.from_env(**overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="provision and check model files")
    models_sub = models.add_subparsers(dest="action", required=True)
    pull = models_sub.add_parser("pull", help="fetch and verify models (default: generator + embedder)")
    pull.add_argument("names", nargs="*")
    listing = models_sub.add_parser("list", help="show each model's state: missing, verified or corrupt")
    listing.add_argument("--full", action="store_true", help="re-hash every file instead of trusting stamps")
    check = models_sub.add_parser("check", help="check that the generator runs on this CPU")
    check.add_argument("--model", default=None, help="generator model name")

    index = sub.add_parser("index", help="build or update the index of the corpus")
    index.add_argument("--rebuild", action="store_true", help="embed everything again from scratch")

    add = sub.add_parser("add", help="copy article files into the corpus and index them")
    add.add_argument("paths", nargs="+", type=Path, help="files, or folders holding them")
    add.add_argument("--link", action="store_true", help="symlink the files instead of copying them")
    remove = sub.add_parser(
        "remove", help="move an article to <corpus>/.rag/trash and drop it from the index"
    )
    remove.add_argument("doc_id")
    listed = sub.add_parser("articles", help="list the indexed articles: id, date, outlet, title")

    search = sub.add_parser("search", help="show ranked hits and the selected evidence for a question")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=None, help="number of hits")

    ask = sub.add_parser("ask", help="answer a question with quoted citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--model", default=None, help="generator model name")
    ask.add_argument("-k", type=int, default=None, help="number of chunks to retrieve")

    ev = sub.add_parser("eval", help="score answers against a gold file")
    ev.add_argument("--gold", type=Path, default=ROOT / "eval" / "dev.jsonl")
    ev.add_argument("--model", default=None)
    ev.add_argument("--out", type=Path, default=None, help="report folder (default eval/reports/<time>)")
    ev.add_argument("--fail-under", nargs="*", default=[], metavar="METRIC=VALUE")
    ev.add_argument("--fail-above", nargs="*", default=[], metavar="METRIC=VALUE")
    ev.add_argument(
        "--distractors",
        type=int,
        default=0,
        metavar="N",
        help="ask among N generated articles too (rag scale's), in a temporary copy of the corpus",
    )

    bench = sub.add_parser("bench", help="measure latency, throughput and memory beside raw llama.cpp")
    bench.add_argument("--model", default=None, help="generator model name")
    bench.add_argument("--gold", type=Path, default=ROOT / "eval" / "dev.jsonl")
    bench.add_argument("--repeat", type=int, default=1, help="times each question is asked")
    bench.add_argument("--limit", type=int, default=None, help="only the first N questions")
    bench.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/<time>.json)")
    bench.add_argument(
        "--builds",
        nargs="*",
        default=[],
        metavar="PYTHON",
        help="also time the llama.cpp builds of these interpreters",
    )

    scale = sub.add_parser(
        "scale", help="index N generated articles; report throughput, size, memory, latency"
    )
    scale.add_argument("n", type=int, help="number of articles to generate")
    scale.add_argument("--queries", type=int, default=200, help="questions timed against the index")
    scale.add_argument(
        "--simulate", type=int, default=100_000, help="also time flat and HNSW search over this many chunks"
    )
    scale.add_argument("--corpus-seed", type=int, default=0, help="seed of the generated articles")
    scale.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/scale-…)")

    load = sub.add_parser(
        "loadtest", help="concurrent clients against the API over a model server, on loopback"
    )
    load.add_argument("--gold", type=Path, default=ROOT / "eval" / "dev.jsonl")
    load.add_argument("--clients", type=int, default=8, help="clients asking at once")
    load.add_argument("--questions", type=int, default=3, help="questions each client asks in turn")
    load.add_argument(
        "--out", type=Path, default=None, help="JSON file (default bench/results/load-<time>.json)"
    )

    for p in (models, pull, listing, check, index, add, remove, listed, search, ask, ev, bench, scale, load):
        _settings_flags(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    for noisy in (
        "httpx",
        "httpx2",
        "openai",
        "sentence_transformers",
        "transformers",
        "huggingface_hub",
        "faiss",
        "bm25s",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a broken PDF's reason is in the skip message
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        return COMMANDS[args.command](args, settings)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_models(args, settings: Settings) -> int:
    from . import models

    if args.action == "pull":
        for name in args.names or models.DEFAULT_PULL:
            models.pull(name, settings.cache_dir)
        return 0
    if args.action == "check":
        from .selfcheck import check_generator

        result = check_generator(models.llm_path(settings, args.model), settings.threads)
        print(f"{result.message} ({result.seconds:.1f} s)", file=sys.stdout if result.ok else sys.stderr)
        return 0 if result.ok else 1
    bad = 0
    for name, spec in models.SPECS.items():
        state = models.state(spec, settings.cache_dir, full=args.full, progress=True)
        bad += state == "corrupt"
        print(f"{name:22} {state:9} {spec.size / 1e6:8.1f} MB  {models.model_path(spec, settings.cache_dir)}")
    return 1 if bad else 0


def cmd_index(args, settings: Settings) -> int:
    from .index import open_index
    from .pipeline import Pipeline

    embedder = Pipeline(settings).embedder
    index, report = open_index(settings, embedder, rebuild=args.rebuild, progress=True)
    if report.rebuilt_because:
        print(f"built from scratch: {report.rebuilt_because}")
    print(f"documents: {report.documents}  chunks: {report.chunks}")
    print(
        f"embedded: {report.embedded}  reused: {report.reused}  removed documents: {report.removed_documents}"
    )
    for s in report.skipped:
        print(f"skipped {s.path}: {s.reason}")
    print(
        f"index: {settings.index_dir} (built {index.manifest.get('built_at')})  time: {report.seconds:.1f} s"
    )
    return 0


def cmd_add(args, settings: Settings) -> int:
    from tqdm import tqdm

    from .library import add_files
    from .pipeline import Pipeline

    embedder = Pipeline(settings).embedder
    with tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {n:.0f}%", file=sys.stderr) as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message[:40])
            bar.update(round(100 * fraction) - bar.n)

        change = add_files(settings, embedder, args.paths, link=args.link, progress=progress)
    for a in change.added:
        print(f"added {a.source} as {a.stored}")
    for s in change.skipped:
        print(f"skipped {s.path}: {s.reason}")
    if change.index:
        print(
            f"index: {change.index.documents} documents, {change.index.chunks} chunks "
            f"({change.index.embedded} embedded, {change.index.reused} reused)"
        )
    return 0 if change.added or not change.skipped else 1


def cmd_remove(args, settings: Settings) -> int:
    from .library import remove_article
    from .pipeline import Pipeline

    change = remove_article(settings, Pipeline(settings).embedder, args.doc_id)
    print(f"removed {args.doc_id} (its file is in {settings.corpus_dir}/.rag/trash)")
    print(f"index: {change.index.documents} documents, {change.index.chunks} chunks")
    return 0


def cmd_articles(args, settings: Settings) -> int:
    from .library import articles
    from .pipeline import Pipeline

    for doc in articles(Pipeline(settings).index.documents):
        published = doc.published.isoformat() if doc.published else "-"
        print(f"{doc.doc_id}\t{published}\t{doc.outlet or '-'}\t{doc.title}")
    return 0


def cmd_search(args, settings: Settings) -> int:
    from .pipeline import Pipeline

    pipeline = Pipeline(settings, progress=True)
    retrieval = pipeline.retriever.retrieve(args.question, args.k or settings.top_k, settings.evidence_tokens)
    for rank, hit in enumerate(retrieval.hits, 1):
        doc = pipeline.document(hit.chunk.doc_id)
        source = ", ".join(str(x) for x in (doc.title, doc.outlet, doc.published) if x)
        print(
            f"{rank:2}. {hit.score:.4f} dense#{hit.dense_rank} bm25#{hit.lexical_rank}"
            f"  {hit.chunk.chunk_id}  {source}"
        )
    verdict = "relevant" if retrieval.relevant else "NOTHING RELEVANT"
    print(f"\nrelevance: {verdict} ({retrieval.why})\n\nevidence:")
    for e in retrieval.evidence:
        print(f"[{e.n}] {e.doc_id} {e.start}-{e.end}: {' '.join(e.text.split())}")
    return 0


def cmd_ask(args, settings: Settings) -> int:
    from .pipeline import Pipeline

    answer = None
    stream = not args.json and sys.stdout.isatty()
    for item in Pipeline(settings, progress=True).ask_stream(args.question, model=args.model, k=args.k):
        if isinstance(item, str):
            if stream:
                print(item, end="", flush=True)
        else:
            answer = item
    if stream:
        print("\n")
    print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False) if args.json else answer.to_markdown())
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from . import evaluate
    from .pipeline import Pipeline

    under = dict(evaluate.parse_threshold(t) for t in args.fail_under)
    above = dict(evaluate.parse_threshold(t) for t in args.fail_above)
    gold = evaluate.load_gold(args.gold)
    if args.distractors < 0:
        raise ValueError("--distractors must be 0 or more")
    meta = {
        "gold": str(args.gold),
        "model": args.model or settings.llm_model,
        "distractors": args.distractors,
    }
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        if args.distractors:
            from .scale import mix_corpus

            mixed = mix_corpus(settings.corpus_dir, Path(tmp) / "corpus", args.distractors)
            settings = settings.with_(corpus_dir=mixed, index_dir=Path(tmp) / "index")
        pipeline = Pipeline(settings, progress=True)
        report = evaluate.evaluate(
            gold, lambda q: pipeline.ask(q, model=args.model), settings.corpus_dir, meta=meta
        )
    out = args.out or ROOT / "eval" / "reports" / datetime.now().strftime("%Y%m%d-%H%M%S")
    evaluate.write_report(report, out)
    print(evaluate.summary_table(report["summary"]))
    print(f"\nreport: {out / 'report.md'}")
    failures = evaluate.check_thresholds(report["summary"], under, above)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


def cmd_bench(args, settings: Settings) -> int:
    from . import bench
    from .evaluate import load_gold
    from .pipeline import Pipeline

    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be 1 or more")
    gold = load_gold(args.gold)[: args.limit]
    result = bench.run(
        Pipeline(settings, progress=True),
        gold,
        repeat=args.repeat,
        model=args.model,
        meta={"gold": str(args.gold)},
        builds=args.builds,
    )
    out = args.out or ROOT / "bench" / "results" / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    bench.write(result, out)
    print(bench.format_table(result))
    print(f"\nresults: {out}")
    return 0


def cmd_scale(args, settings: Settings) -> int:
    from . import scale
    from .pipeline import Pipeline

    result = scale.run(
        args.n,
        settings,
        Pipeline(settings).embedder,
        queries=args.queries,
        simulate=args.simulate,
        seed=args.corpus_seed,
    )
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "bench" / "results" / f"scale-{args.n}-{stamp}.json"
    scale.write(result, out)
    print(scale.format_table(result))
    print(f"\nresults: {out}")
    return 0


def cmd_loadtest(args, settings: Settings) -> int:
    from . import loadtest
    from .evaluate import load_gold

    if args.clients < 1 or args.questions < 1:
        raise ValueError("--clients and --questions must be 1 or more")
    summary = loadtest.against_model_server(settings, load_gold(args.gold), args.clients, args.questions)
    out = args.out or ROOT / "bench" / "results" / f"load-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    print(loadtest.format_report(summary))
    print(f"\nresults: {out}")
    return 1 if summary["failed"] or summary["wrong"] else 0


COMMANDS = {
    "models": cmd_models,
    "index": cmd_index,
    "add": cmd_add,
    "remove": cmd_remove,
    "articles": cmd_articles,
    "search": cmd_search,
    "ask": cmd_ask,
    "eval": cmd_eval,
    "bench": cmd_bench,
    "scale": cmd_scale,
    "loadtest": cmd_loadtest,
}

if __name__ == "__main__":
    sys.exit(main())
