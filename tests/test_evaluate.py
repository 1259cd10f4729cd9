"""The evaluation harness: phrase matching, every summary metric, reports, thresholds, gold loading."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from rag.evaluate import (
    SUMMARY_KEYS,
    check_thresholds,
    contains_phrase,
    corpus_texts,
    count_sentences,
    decode_rate,
    evaluate,
    fact_hit,
    load_gold,
    lowercase_words,
    normalise,
    parse_threshold,
    summary_table,
    uncited,
    ungrounded,
    write_report,
)
from rag.schema import Answer, Citation, Evidence

DEV_GOLD = Path(__file__).resolve().parent.parent / "eval" / "dev.jsonl"

# --- fact matching ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        ("LONDON talks", "london", True),  # case
        ("China\u2019s \u201cdeal\u201d", 'China\'s "deal"', True),  # curly quotes
        ('China\'s "deal"', "China\u2019s \u201edeal\u201c", True),  # and the other way round
        ("the 2019\u20132020 truce", "2019-2020", True),  # en dash
        ("rare\u2014earth", "rare-earth", True),  # em dash
        ("rare\u2010earth", "rare\u2013earth", True),  # hyphen vs en dash, both folded
        ("June\n   5", "June 5", True),  # whitespace runs and newlines
        ("June\u00a05", "June\n5", True),  # no-break space
        ("the law applies", "law", True),
        ("a flaw in the law-making", "law", True),  # "law-making" starts a word
        ("a flaw", "law", False),  # not at a word start
        ("Chinese students", "student", True),  # phrase may end inside a word
        ("June [1] 5", "June 5", True),  # marker inside the phrase span
        ("June 5[1][2].", "June 5", True),
        ("London [1, 2] talks", "London talks", True),
        ("on Aug. 10 they met", "Aug. 10", True),
        ("on Augx 10 they met", "Aug. 10", False),  # the dot is literal, not a regex wildcard
        ("up 90% on the year", "90%", True),
        ("up 190% on the year", "90%", False),  # a digit before it: not a word start
        ("prices (+5%)", "+5%", True),  # phrase starting with punctuation needs no word start
        ("anything", "", False),  # an empty phrase never matches
    ],
)
def test_contains_phrase(text: str, phrase: str, expected: bool) -> None:
    assert contains_phrase(text, phrase) is expected


def test_normalise_example() -> None:
    assert normalise("  \u201cRare\u201d\u2014Earth [1]\n deal ") == '"rare"-earth deal'


def test_fact_hit_any_phrase() -> None:
    fact = {"fact": "June 5", "any": ["June 5", "5 June"]}
    assert fact_hit("They spoke on 5 June [2].", fact)
    assert not fact_hit("They spoke on 15 June.", fact)


def test_count_sentences() -> None:
    """Split after . ! ? before a new sentence; a marker after the full stop is not a sentence of
    its own, and an initialism ("U.S.") ends no sentence unless a usual opener follows."""
    assert count_sentences("One [1]. Two! Three? Four") == 4
    assert count_sentences("One. [1] Two.") == 2
    assert count_sentences("Aug.10 is one.") == 1
    assert count_sentences("U.S. Commerce Secretary Lutnick spoke [1]. The U.S. It agreed.") == 3
    assert count_sentences("   ") == 0


def test_decode_rate() -> None:
    """28 tokens over (2000 - 500 - 100) ms = 1.4 s -> 20/s; decode_ms wins when present: 28 / 0.7 = 40."""
    timings = {"completion_tokens": 28, "total_ms": 2000, "ttft_ms": 500, "retrieve_ms": 100}
    assert decode_rate(timings) == pytest.approx(20.0)
    assert decode_rate(timings | {"decode_ms": 700}) == pytest.approx(40.0)
    assert decode_rate(timings | {"completion_tokens": 0}) is None
    assert decode_rate({"completion_tokens": 5, "total_ms": 100}) is None  # no ttft: cannot tell


# --- metrics on a hand-made run ---------------------------------------------------------------------------

DOC_A = "The talks were held in London.\nOfficials met on June 5.\n"
DOC_B = "Line one.\r\nChina will expedite approvals in accordance with the law.\n"

GOLD = [
    {
        "id": "q1",
        "question": "Where were the talks?",
        "answerable": True,
        "facts": [{"fact": "London", "any": ["London"]}, {"fact": "Geneva", "any": ["Geneva"]}],
        "must_not": ["Paris"],
        "sources": ["a"],
    },
    {
        "id": "q2",
        "question": "What did China commit to?",
        "answerable": True,
        "facts": [
            {"fact": "expedite", "any": ["expedite", "accelerate"]},
            {"fact": "law", "any": ["law", "legal"]},
        ],
        "sources": ["b"],
    },
    {
        "id": "q3",
        "question": "When did they speak?",
        "answerable": True,
        "facts": [{"fact": "June 5", "any": ["June 5", "5 June"]}],
        "sources": ["a"],
    },
    {
        "id": "q4",
        "question": "Who won the World Cup?",
        "answerable": False,
        "facts": [],
        "must_not": ["Argentina"],
        "sources": [],
    },
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """a.txt starts with a BOM (offsets count from after it); b.md has a CRLF that must survive re-reading."""
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.txt").write_bytes(b"\xef\xbb\xbf" + DOC_A.encode())
    (root / "b.md").write_bytes(DOC_B.encode())
    return root


def cite(n: int, doc_id: str, quote: str, shift: int = 0) -> Citation:
    start = (DOC_A if doc_id == "a" else DOC_B).index(quote) + shift
    return Citation(n, doc_id, doc_id.upper(), None, None, quote, start, start + len(quote), verified=True)


def evidence(n: int, doc_id: str, text: str) -> Evidence:
    return Evidence(n, doc_id, text, 0, len(text))


ANSWERS = {
    "Where were the talks?": Answer(
        question="Where were the talks?",
        text="The talks were held in London [1][2]. Geneva hosted earlier rounds.",
        citations=[cite(1, "a", "held in London"), cite(2, "b", "China will expedite approvals")],
        timings={"total_ms": 2000, "ttft_ms": 500, "retrieve_ms": 100, "completion_tokens": 28},
        model="fake-model",
        retrieved_doc_ids=["a", "b"],
        evidence=[evidence(1, "a", "The talks were held in London.")],
    ),
    "What did China commit to?": Answer(
        question="What did China commit to?",
        text="China agreed to expedite approvals [1][2]. Details were not given.",
        # [2] is deliberately wrong: its offsets are one character late
        citations=[cite(1, "b", "expedite approvals"), cite(2, "a", "Officials met", shift=1)],
        timings={
            "total_ms": 3000,
            "ttft_ms": 1000,
            "retrieve_ms": 100,
            "decode_ms": 1000,
            "completion_tokens": 40,
        },
        model="fake-model",
        retrieved_doc_ids=["b"],
        evidence=[evidence(1, "b", DOC_B)],
    ),
    "When did they speak?": Answer(
        question="When did they speak?",
        text="I could not find this in the documents.",
        abstained=True,
        timings={"total_ms": 400, "retrieve_ms": 400, "ttft_ms": None},  # abstained before generation
        model="fake-model",
        warnings=["nothing relevant was retrieved"],
        retrieved_doc_ids=["b"],
        evidence=[evidence(1, "a", "Officials met on June 5.")],
    ),
    "Who won the World Cup?": Answer(
        question="Who won the World Cup?",
        text="Argentina won the final.",
        timings={"total_ms": 1000, "ttft_ms": 200, "retrieve_ms": 100, "completion_tokens": 21},
        model="fake-model",
        retrieved_doc_ids=["b"],
    ),
}


@pytest.fixture
def report(corpus: Path) -> dict:
    return evaluate(GOLD, ANSWERS.__getitem__, corpus, progress=False, meta={"gold": "hand-made"})


def test_every_summary_metric(report: dict) -> None:
    """Each value worked out by hand from GOLD and ANSWERS.

    fact_recall: q1 London+Geneva 2/2 = 1, q2 expedite only 1/2 = 0.5 ("law" is not in the answer),
        q3 abstained 0/1 = 0 -> (1 + 0.5 + 0) / 3 = 0.5
    all_facts_rate: only q1 has every fact -> 1/3
    abstention_accuracy: q1 ok, q2 ok, q3 abstained though answerable, q4 answered though unanswerable -> 2/4
    false_abstentions: q3 -> 1
    must_not_violations: q4 says "Argentina" -> 1
    ungrounded_claims: q1 "Geneva" has no quote; q2 "Details" opens a sentence but is never written in
        lower case in the corpus, so it counts as a name no quote holds; q4 "Argentina" -> 3
    citation_validity: q1 [1] ok (needs the BOM stripped), q1 [2] ok (needs the CRLF kept), q2 [1] ok,
        q2 [2] shifted -> 3/4 = 0.75
    citation_support: hit facts London, Geneva, expedite; "held in London" supports London, "expedite
        approvals" supports expedite, nothing quotes Geneva -> 2/3
    source_precision: q1 cites a (gold) and b (not), q2 cites b (gold) and a (not) -> 2/4 = 0.5
    uncited_sentence_rate: answered q1 (2 sentences, 1 uncited), q2 (2, 1), q4 (1, 1) -> 3/5 = 0.6
    retrieval_source_recall: q1 a in [a, b], q2 b in [b], q3 a not in [b]; q4 has no gold -> 2/3
    evidence_fact_coverage: London yes, Geneva no, expedite yes, law yes ("the law" in DOC_B),
        June 5 yes (q3 had the evidence but abstained) -> 4/5 = 0.8
    latency: totals 2.0, 3.0, 0.4, 1.0 s, sorted 0.4 1.0 2.0 3.0;
        p50 at rank 0.5 * 3 = 1.5 -> 1.0 + 0.5 * (2.0 - 1.0) = 1.5
        p95 at rank 0.95 * 3 = 2.85 -> 2.0 + 0.85 * (3.0 - 2.0) = 2.85
    ttft_p50_s: 0.5, 1.0, 0.2 (q3 has None) -> median 0.5
    decode_tokens_per_s: q1 28 / ((2000 - 500 - 100) / 1000) = 20, q2 40 / (decode_ms 1000 / 1000) = 40,
        q4 21 / ((1000 - 200 - 100) / 1000) = 30; q3 has no tokens -> median 30
    questions: 4
    """
    expected = {
        "fact_recall": 0.5,
        "all_facts_rate": 1 / 3,
        "abstention_accuracy": 0.5,
        "false_abstentions": 1,
        "must_not_violations": 1,
        "ungrounded_claims": 3,
        "citation_validity": 0.75,
        "citation_support": 2 / 3,
        "source_precision": 0.5,
        "uncited_sentence_rate": 0.6,
        "retrieval_source_recall": 2 / 3,
        "evidence_fact_coverage": 0.8,
        "latency_p50_s": 1.5,
        "latency_p95_s": 2.85,
        "ttft_p50_s": 0.5,
        "decode_tokens_per_s": 30.0,
        "questions": 4,
    }
    assert report["summary"] == pytest.approx(expected)
    assert tuple(report["summary"]) == SUMMARY_KEYS


def test_question_rows(report: dict) -> None:
    q1, q2, q3, q4 = report["questions"]
    assert (q1["facts_hit"], q1["facts_missed"]) == (["London", "Geneva"], [])
    assert (q2["facts_hit"], q2["facts_missed"]) == (["expedite"], ["law"])
    assert q3["abstained"] and q3["facts_missed"] == ["June 5"]
    assert q4["must_not_hit"] == ["Argentina"] and q1["must_not_hit"] == []
    assert q4["ungrounded"] == ["Argentina won the final."] and q3["ungrounded"] == []
    assert [c["valid"] for c in q2["citations"]] == [True, False]
    assert [c["verified"] for c in q2["citations"]] == [True, True]  # the pipeline's own claim is kept as is
    assert set(q1["citations"][0]) == {"n", "doc_id", "quote", "start", "end", "verified", "valid"}
    assert all(q["error"] is None for q in report["questions"])
    assert q1["timings"]["total_ms"] == 2000
    assert (q1["warnings"], q3["warnings"]) == ([], ["nothing relevant was retrieved"])


def test_meta(report: dict) -> None:
    meta = report["meta"]
    assert meta["gold"] == "hand-made" and meta["model"] == "fake-model"
    assert datetime.fromisoformat(meta["created"]).tzinfo is not None


def test_uncited_sentences_are_read_from_the_answer_text() -> None:
    """A note on a part of the question left open cites nothing, and needs not."""
    text = "Ford halted output [1]. No quoted answer was found for “What did it cost?” Prices rose."
    assert uncited(Answer("Q", text)) == ["Prices rose."]
    assert uncited(Answer("Q", "Prices rose.", abstained=True)) == []


def test_a_yes_or_no_question_grounds_no_sentence() -> None:
    """ "Did they meet in Paris?" supposes nothing: "They met in Paris" needs Paris in its quote."""
    quote = cite(1, "a", "held in London")
    for question, found in (
        ("Where did they meet in Paris?", []),
        ("Did they meet in Paris?", ["They met in Paris [1]."]),
    ):
        assert ungrounded(Answer(question, "They met in Paris [1].", [quote])) == found


def test_empty_cases(corpus: Path) -> None:
    """One unanswerable question, abstained, no citations, no timings: the documented defaults."""
    gold = [GOLD[3]]
    answer = Answer(question=GOLD[3]["question"], text="Not in the documents.", abstained=True)
    summary = evaluate(gold, lambda q: answer, corpus, progress=False)["summary"]
    assert summary == {
        "fact_recall": 1.0,
        "all_facts_rate": 1.0,
        "abstention_accuracy": 1.0,
        "false_abstentions": 0,
        "must_not_violations": 0,
        "ungrounded_claims": 0,
        "citation_validity": 1.0,
        "citation_support": 1.0,
        "source_precision": 1.0,
        "uncited_sentence_rate": 0.0,
        "retrieval_source_recall": 1.0,
        "evidence_fact_coverage": 1.0,
        "latency_p50_s": 0.0,
        "latency_p95_s": 0.0,
        "ttft_p50_s": 0.0,
        "decode_tokens_per_s": 0.0,
        "questions": 1,
    }


def test_answerable_question_without_facts_is_skipped(corpus: Path) -> None:
    """q2 hits 1 of 2 facts; "open" has no facts and counts in neither fact metric.

    fact_recall: mean over q2 only = 0.5 (not a division by zero); all_facts_rate: 0 of 1 = 0.0 (not 1/2).
    """
    open_question = {"id": "open", "question": "Anything?", "answerable": True, "facts": [], "sources": []}
    answers = ANSWERS | {"Anything?": Answer(question="Anything?", text="Something.")}
    summary = evaluate([GOLD[1], open_question], answers.__getitem__, corpus, progress=False)["summary"]
    assert (summary["fact_recall"], summary["all_facts_rate"]) == (0.5, 0.0)


def test_corpus_texts_are_read_as_the_indexer_reads_them(corpus: Path, tmp_path: Path) -> None:
    assert corpus_texts(corpus) == {"a": DOC_A, "b": DOC_B}  # BOM stripped; .md found, CRLF kept
    assert corpus_texts(tmp_path / "missing") == {}
    assert lowercase_words(["Ford halted the line", "talks"]) == {"halted", "the", "line", "talks"}


def test_citation_to_missing_document_is_invalid(corpus: Path) -> None:
    ghost = Citation(1, "missing", "M", None, None, "London", 0, 6, verified=True)
    answer = Answer(question="Where were the talks?", text="London [1].", citations=[ghost])
    report = evaluate([GOLD[0]], lambda q: answer, corpus, progress=False)
    assert report["questions"][0]["citations"][0]["valid"] is False
    assert report["summary"]["citation_validity"] == 0.0


def test_failing_ask_is_recorded_and_the_run_goes_on(corpus: Path) -> None:
    asked = []

    def ask(question: str) -> Answer:
        asked.append(question)
        if question == GOLD[0]["question"]:
            raise RuntimeError("model crashed")
        return ANSWERS[question]

    report = evaluate(GOLD[:2], ask, corpus, progress=False)
    failed, ok = report["questions"]
    assert asked == [GOLD[0]["question"], GOLD[1]["question"]]
    assert failed["error"] == "RuntimeError: model crashed"
    assert (failed["answer"], failed["abstained"], failed["citations"]) == ("", False, [])
    assert failed["facts_missed"] == ["London", "Geneva"]
    assert ok["error"] is None and ok["facts_hit"] == ["expedite"]
    assert report["summary"]["questions"] == 2
    assert report["meta"]["model"] == "fake-model"  # the first answer that has a model


# --- reports and thresholds -------------------------------------------------------------------------------


def test_write_report(report: dict, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "run1"
    write_report(report, out)
    saved = json.loads((out / "report.json").read_text("utf-8"))
    assert list(saved["summary"]) == list(SUMMARY_KEYS)
    assert saved["summary"] == report["summary"]
    assert [q["id"] for q in saved["questions"]] == ["q1", "q2", "q3", "q4"]
    md = (out / "report.md").read_text("utf-8")
    assert md.startswith("| metric | value |\n| --- | ---: |\n| fact_recall | 0.500 |")
    assert "| false_abstentions | 1 |" in md
    assert "gold: hand-made" in md
    assert "| q2 | What did China commit to? | True | False | 1/2 |  | 1/2 | 3.00 | missed: law |" in md
    assert md.index("| metric |") < md.index("| id |")


def test_summary_table(report: dict) -> None:
    lines = summary_table(report["summary"]).splitlines()
    assert len(lines) == len(SUMMARY_KEYS)
    assert lines[0].split() == ["fact_recall", "0.500"]
    assert "questions" in lines[-1] and lines[-1].endswith(" 4")


def test_parse_threshold() -> None:
    assert parse_threshold("fact_recall=0.8") == ("fact_recall", 0.8)
    assert parse_threshold(" latency_p95_s = 5 ") == ("latency_p95_s", 5.0)
    for bad in ["fact_recall", "fact_recall=", "fact_recall=high", "=0.8", "fact_recall=nan"]:
        with pytest.raises(ValueError, match="NAME=NUMBER"):
            parse_threshold(bad)
    with pytest.raises(ValueError, match="unknown metric"):
        parse_threshold("fact_recal=0.8")


def test_check_thresholds(report: dict) -> None:
    """fact_recall is 0.5 and must_not_violations is 1 in the hand-made run."""
    summary = report["summary"]
    assert (
        check_thresholds(summary, {"fact_recall": 0.5}, {"must_not_violations": 1}) == []
    )  # limits inclusive
    failed = check_thresholds(summary, {"fact_recall": 0.8}, {"must_not_violations": 0})
    assert failed == [
        "fact_recall = 0.500, below the minimum 0.8",
        "must_not_violations = 1, above the maximum 0",
    ]
    with pytest.raises(ValueError, match="unknown metric.*bogus"):
        check_thresholds(summary, {}, {"bogus": 1})


# --- gold loading -----------------------------------------------------------------------------------------


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_load_gold(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "gold.jsonl", json.dumps(GOLD[0]), "", json.dumps(GOLD[3]))
    assert load_gold(path) == [GOLD[0], GOLD[3]]


def test_load_gold_keeps_line_separators_inside_strings(tmp_path: Path) -> None:
    item = GOLD[0] | {"question": "Where\u2028were the talks?"}
    path = write_lines(tmp_path / "gold.jsonl", json.dumps(item, ensure_ascii=False))
    assert load_gold(path) == [item]


def test_dev_gold_loads() -> None:
    assert len(load_gold(DEV_GOLD)) > 0


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([json.dumps(GOLD[0]), '{"id": "q2",'], r"gold.jsonl:2: not valid JSON"),
        ([json.dumps({k: v for k, v in GOLD[0].items() if k != "facts"})], r":1: missing key\(s\): facts"),
        ([json.dumps(GOLD[0] | {"answerable": "yes"})], r":1: wrong type for: answerable \(bool\)"),
        ([json.dumps(GOLD[0] | {"facts": [{"fact": "x", "any": "London"}]})], r':1: each fact needs "fact"'),
        ([json.dumps(GOLD[0] | {"facts": [{"fact": "x", "any": []}]})], r":1: fact 'x' has no phrases"),
        ([json.dumps(GOLD[0] | {"must_not": [""]})], r':1: "sources" and "must_not"'),
        ([json.dumps(GOLD[0]), json.dumps(GOLD[0])], r":2: duplicate id 'q1'"),
        (["[]"], r":1: expected a JSON object"),
        ([""], r"no questions"),
    ],
)
def test_load_gold_errors(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_gold(write_lines(tmp_path / "gold.jsonl", *lines))


def test_load_gold_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Gold file not found"):
        load_gold(tmp_path / "nope.jsonl")


def test_evaluate_checks_gold(corpus: Path) -> None:
    with pytest.raises(ValueError, match="gold question 1: missing key"):
        evaluate([{"id": "x"}], ANSWERS.__getitem__, corpus, progress=False)
