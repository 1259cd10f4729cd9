"""Score the assistant against a gold file of questions.

Gold is JSONL, one question a line::

    {"id": "d01", "question": "...", "answerable": true,
     "facts": [{"fact": "human-readable", "any": ["phrase", "alt phrase"]}],
     "must_not": ["hallucination phrase"], "sources": ["000_4c889cb198ed1fac"]}

A fact is hit when one of its phrases occurs in the answer (see ``contains_phrase``).
Shares with nothing to measure are 1.0 (nothing was missed); rates of bad things and timings are 0.0.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .answer import ABSTAIN, hints, is_untold, split_answer
from .questions import polar
from .schema import Answer, Citation
from .terms import headline, missing_terms

SUMMARY_KEYS = (
    "fact_recall",
    "all_facts_rate",
    "abstention_accuracy",
    "false_abstentions",
    "must_not_violations",
    "ungrounded_claims",
    "citation_validity",
    "citation_support",
    "source_precision",
    "uncited_sentence_rate",
    "retrieval_source_recall",
    "evidence_fact_coverage",
    "latency_p50_s",
    "latency_p95_s",
    "ttft_p50_s",
    "decode_tokens_per_s",
    "questions",
)

_FOLD = str.maketrans({c: "'" for c in "‘’‚‛′‹›"} | {c: '"' for c in "“”„‟″«»"} | {c: "-" for c in "‐‑‒–—―−"})
_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")  # [1], [1, 2] and the space before them
_SPACE = re.compile(r"\s+")
_REQUIRED = {"id": str, "question": str, "answerable": bool, "facts": list, "sources": list}


def normalise(text: str) -> str:
    """Fold case, quotes, dashes and whitespace; drop citation markers.

    ``'  “Rare”—Earth [1]\\n deal '`` -> ``'"rare"-earth deal'``
    """
    text = _MARKER.sub("", text.translate(_FOLD))
    return _SPACE.sub(" ", text).strip().casefold()


def contains_phrase(text: str, phrase: str) -> bool:
    """True when ``phrase`` occurs in ``text`` starting at a word start, both normalised.

    ``("Chinese students", "student") -> True``, ``("a flaw", "law") -> False``
    """
    needle = normalise(phrase)
    if not needle:
        return False
    start = r"(?<!\w)" if re.match(r"\w", needle) else ""
    return re.search(start + re.escape(needle), normalise(text)) is not None


def fact_hit(answer_text: str, fact: dict) -> bool:
    return any(contains_phrase(answer_text, p) for p in fact["any"])


def count_sentences(text: str) -> int:
    """Sentences as the answer step splits them: ``"The U.S. eased curbs [1]. Talks ended!" -> 2``."""
    return len(split_answer(text))


def quote_is_valid(c: Citation, doc_text: str | None) -> bool:
    """The quote sits verbatim at ``doc_text[c.start:c.end]``."""
    if doc_text is None or not c.quote or not 0 <= c.start <= c.end <= len(doc_text):
        return False
    return doc_text[c.start : c.end] == c.quote


def _phrases(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(p, str) and normalise(p) for p in value)


def _gold_problem(item: object) -> str | None:
    """What is wrong with one gold question, or None."""
    if not isinstance(item, dict):
        return "expected a JSON object"
    if missing := [k for k in _REQUIRED if k not in item]:
        return f"missing key(s): {', '.join(missing)}"
    if wrong := [f"{k} ({t.__name__})" for k, t in _REQUIRED.items() if not isinstance(item[k], t)]:
        return f"wrong type for: {', '.join(wrong)}"
    for fact in item["facts"]:
        if not (isinstance(fact, dict) and isinstance(fact.get("fact"), str) and _phrases(fact.get("any"))):
            return f'each fact needs "fact" (text) and "any" (a list of non-empty phrases), got {fact!r}'
        if not fact["any"]:
            return f'fact {fact["fact"]!r} has no phrases in "any"'
    if not _phrases(item["sources"]) or not _phrases(item.get("must_not", [])):
        return '"sources" and "must_not" must be lists of non-empty strings'
    return None


def uncited(answer: Answer) -> list[str]:
    """Answer sentences that cite nothing, other than notes on parts of the question left
    open or that the sources do not answer (none for an abstention)."""
    if answer.abstained:
        return []
    return [s for s in split_answer(answer.text) if not (hints(s)[1] or ABSTAIN.search(s) or is_untold(s))]


def ungrounded(answer: Answer, common: Callable[[str], bool] = lambda w: False) -> list[str]:
    """Answer sentences with a number or name that neither their cited quotes, nor the
    question, nor the cited articles' headlines and dates contain (none for an abstention).
    A yes-or-no question (``polar``) supposes nothing, so its terms ground no sentence.

    ``common(word)`` tells a capitalised first word that is an ordinary word ("Prices")
    from a name ("Ford").
    """
    if answer.abstained:
        return []
    by_n = {c.n: c for c in answer.citations}
    found = []
    for sentence in split_answer(answer.text):
        bare, cited = hints(sentence)
        quotes = [by_n[n] for n in cited if n in by_n]
        heads = [headline(c.title, c.published) for c in quotes]
        asked = "" if polar(answer.question) else answer.question
        grounding = "\n".join([asked, *(c.quote for c in quotes), *heads])
        if missing_terms(bare, grounding, common):
            found.append(sentence)
    return found


def score_question(
    item: dict,
    answer: Answer,
    doc_texts: Mapping[str, str | None],
    error: str | None = None,
    common: Callable[[str], bool] = lambda w: False,
) -> dict:
    """One report row; ``doc_texts`` maps each cited doc_id to its text (None when missing)."""
    facts = item["facts"]
    hit = [f for f in facts if fact_hit(answer.text, f)]
    quotes = [c.quote for c in answer.citations]
    return {
        "id": item["id"],
        "question": item["question"],
        "answerable": item["answerable"],
        "answer": answer.text,
        "abstained": answer.abstained,
        "facts_hit": [f["fact"] for f in hit],
        "facts_missed": [f["fact"] for f in facts if f not in hit],
        "facts_supported": [f["fact"] for f in hit if any(fact_hit(q, f) for q in quotes)],
        "facts_in_evidence": [f["fact"] for f in facts if any(fact_hit(e.text, f) for e in answer.evidence)],
        "must_not_hit": [p for p in item.get("must_not", []) if contains_phrase(answer.text, p)],
        "ungrounded": ungrounded(answer, common),
        "citations": [
            {
                "n": c.n,
                "doc_id": c.doc_id,
                "quote": c.quote,
                "start": c.start,
                "end": c.end,
                "verified": c.verified,
                "valid": quote_is_valid(c, doc_texts.get(c.doc_id)),
            }
            for c in answer.citations
        ],
        "sources": item["sources"],
        "retrieved_doc_ids": list(answer.retrieved_doc_ids),
        "sentences": count_sentences(answer.text),
        "uncited_sentences": uncited(answer),
        "timings": dict(answer.timings),
        "warnings": list(answer.warnings),  # what the checks dropped, and why
        "error": error,
    }


def _share(hits: float, total: float, empty: float = 1.0) -> float:
    return hits / total if total else empty


def _seconds(timings: dict, key: str) -> float | None:
    ms = timings.get(key)
    return None if ms is None else ms / 1000


def decode_rate(timings: dict) -> float | None:
    """Completion tokens per decode second, or None.

    ``{"completion_tokens": 28, "total_ms": 2000, "ttft_ms": 500, "retrieve_ms": 100}`` -> 28 / 1.4 = 20.0;
    a ``decode_ms`` entry is used instead of that difference when present.
    """
    tokens = timings.get("completion_tokens")
    if timings.get("decode_ms") is not None:
        ms = timings["decode_ms"]
    elif timings.get("total_ms") is not None and timings.get("ttft_ms") is not None:
        ms = timings["total_ms"] - timings["ttft_ms"] - (timings.get("retrieve_ms") or 0)
    else:
        return None
    return tokens / (ms / 1000) if tokens and ms > 0 else None


def summarise(rows: list[dict]) -> dict[str, float]:
    """The summary metrics (``SUMMARY_KEYS``) from report rows; see the module docstring for empty cases."""
    answerable = [r for r in rows if r["answerable"]]
    with_facts = [r for r in answerable if r["facts_hit"] or r["facts_missed"]]
    n_facts = sum(len(r["facts_hit"]) + len(r["facts_missed"]) for r in answerable)
    n_hit = sum(len(r["facts_hit"]) for r in answerable)
    citations = [c for r in rows for c in r["citations"]]
    in_sources = [c["doc_id"] in r["sources"] for r in answerable if r["sources"] for c in r["citations"]]
    answered = [r for r in rows if not r["abstained"]]
    retrieved = [s in r["retrieved_doc_ids"] for r in rows for s in r["sources"]]
    totals = [s for r in rows if (s := _seconds(r["timings"], "total_ms")) is not None]
    ttfts = [s for r in rows if (s := _seconds(r["timings"], "ttft_ms")) is not None]
    rates = [x for r in rows if (x := decode_rate(r["timings"])) is not None]
    recalls = [len(r["facts_hit"]) / (len(r["facts_hit"]) + len(r["facts_missed"])) for r in with_facts]
    p50, p95 = np.percentile(totals, [50, 95]) if totals else (0.0, 0.0)
    return {
        "fact_recall": float(np.mean(recalls)) if recalls else 1.0,
        "all_facts_rate": _share(sum(not r["facts_missed"] for r in with_facts), len(with_facts)),
        "abstention_accuracy": _share(sum(r["abstained"] == (not r["answerable"]) for r in rows), len(rows)),
        "false_abstentions": sum(r["abstained"] for r in answerable),
        "must_not_violations": sum(bool(r["must_not_hit"]) for r in rows),
        "ungrounded_claims": sum(len(r.get("ungrounded", [])) for r in rows),
        "citation_validity": _share(sum(c["valid"] for c in citations), len(citations)),
        "citation_support": _share(sum(len(r["facts_supported"]) for r in answerable), n_hit),
        "source_precision": _share(sum(in_sources), len(in_sources)),
        "uncited_sentence_rate": _share(
            sum(len(r["uncited_sentences"]) for r in answered), sum(r["sentences"] for r in answered), 0.0
        ),
        "retrieval_source_recall": _share(sum(retrieved), len(retrieved)),
        "evidence_fact_coverage": _share(sum(len(r["facts_in_evidence"]) for r in answerable), n_facts),
        "latency_p50_s": float(p50),
        "latency_p95_s": float(p95),
        "ttft_p50_s": float(np.median(ttfts)) if ttfts else 0.0,
        "decode_tokens_per_s": float(np.median(rates)) if rates else 0.0,
        "questions": len(rows),
    }


def _fmt(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def summary_table(summary: Mapping[str, float]) -> str:
    """Aligned ``metric  value`` lines for the terminal."""
    width = max(map(len, summary))
    return "\n".join(f"{name:<{width}}  {_fmt(value)}" for name, value in summary.items())


def _cell(value: object) -> str:
    return _SPACE.sub(" ", str(value)).replace("|", "\\|")


def render_markdown(report: dict) -> str:
    """The summary table, a line of meta, then one table row per question."""
    lines = ["| metric | value |", "| --- | ---: |"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in report["summary"].items()]
    lines += ["", " · ".join(f"{k}: {v}" for k, v in report["meta"].items()), ""]
    lines += [
        "| id | question | answerable | abstained | facts hit | must_not | valid citations | latency s"
        " | notes |",
        "| --- | --- | --- | --- | ---: | --- | ---: | ---: | --- |",
    ]
    for q in report["questions"]:
        n_facts = len(q["facts_hit"]) + len(q["facts_missed"])
        valid = sum(c["valid"] for c in q["citations"])
        latency = _seconds(q["timings"], "total_ms")
        notes = [q["error"] or "", "missed: " + "; ".join(q["facts_missed"]) if q["facts_missed"] else ""]
        cells = [
            q["id"],
            q["question"],
            q["answerable"],
            q["abstained"],
            f"{len(q['facts_hit'])}/{n_facts}",
            ", ".join(q["must_not_hit"]),
            f"{valid}/{len(q['citations'])}",
            "" if latency is None else f"{latency:.2f}",
            " · ".join(n for n in notes if n),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def parse_threshold(text: str) -> tuple[str, float]:
    """``"fact_recall=0.8" -> ("fact_recall", 0.8)``; unknown metrics and bad numbers raise ValueError."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (name and sep and math.isfinite(value)):
        raise ValueError(f"threshold {text!r} should look like NAME=NUMBER, for example fact_recall=0.8")
    _check_names([name])
    return name, value


def _check_names(names: list[str]) -> None:
    if unknown := [n for n in names if n not in SUMMARY_KEYS]:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(SUMMARY_KEYS)}")


def check_thresholds(
    summary: Mapping[str, float], fail_under: Mapping[str, float], fail_above: Mapping[str, float]
) -> list[str]:
    """One message per metric below its ``fail_under`` or above its ``fail_above`` limit."""
    _check_names([*fail_under, *fail_above])
    low = {k: v for k, v in fail_under.items() if summary[k] < v}
    high = {k: v for k, v in fail_above.items() if summary[k] > v}
    return [f"{k} = {_fmt(summary[k])}, below the minimum {v}" for k, v in low.items()] + [
        f"{k} = {_fmt(summary[k])}, above the maximum {v}" for k, v in high.items()
    ]


def load_gold(path: Path) -> list[dict]:
    """Read and check a gold JSONL file; problems raise ValueError naming the line."""
    if not path.is_file():
        raise ValueError(f"Gold file not found: {path}")
    items: list[dict] = []
    seen: set[str] = set()
    # split on "\n" only: str.splitlines would also break at U+2028 inside JSON strings
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        if problem := _gold_problem(item):
            raise ValueError(f"{path}:{lineno}: {problem}")
        if item["id"] in seen:
            raise ValueError(f"{path}:{lineno}: duplicate id {item['id']!r}")
        seen.add(item["id"])
        items.append(item)
    if not items:
        raise ValueError(f"{path}: no questions in the gold file")
    return items


def corpus_texts(corpus_dir: Path) -> dict[str, str]:
    """Each article's stored text by doc_id, read as the indexer reads it (HTML and PDF too)."""
    from .corpus import CorpusError, load_corpus

    try:
        docs, _ = load_corpus(corpus_dir, max_bytes=1 << 30)
    except CorpusError:
        return {}
    return {d.doc_id: d.text for d in docs}


def lowercase_words(texts: Iterable[str]) -> set[str]:
    """Every word written in lower case somewhere: ordinary words, not names."""
    return {w for text in texts for w in re.findall(r"\b[a-z]+\b", text)}


def evaluate(
    gold: list[dict],
    ask: Callable[[str], Answer],
    corpus_dir: Path,
    progress: bool = True,
    meta: dict | None = None,
) -> dict:
    """Ask every gold question and score the answers: ``{"summary", "meta", "questions"}``."""
    for i, item in enumerate(gold, 1):
        if problem := _gold_problem(item):
            raise ValueError(f"gold question {i}: {problem}")
    doc_texts = corpus_texts(corpus_dir)
    common = lowercase_words(doc_texts.values()).__contains__
    rows: list[dict] = []
    models: list[str] = []
    for item in tqdm(gold, desc="eval", unit="q", disable=not progress):
        error = None
        try:
            answer = ask(item["question"])
        except Exception as e:  # one failing question must not end the run
            answer, error = Answer(question=item["question"], text=""), f"{type(e).__name__}: {e}"
        rows.append(score_question(item, answer, doc_texts, error, common))
        models.append(answer.model)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {"gold": None, "model": next((m for m in models if m), ""), "created": created} | (meta or {})
    return {"summary": summarise(rows), "meta": meta, "questions": rows}


def write_report(report: dict, out_dir: Path) -> None:
    """Write ``report.json`` and ``report.md`` into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    (out_dir / "report.md").write_text(render_markdown(report), "utf-8")
