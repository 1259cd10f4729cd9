"""Answers built from a fake generator's hand-written text: attribution, grounding, citations,
abstention; then the pipeline around them with fakes."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from rag.answer import (
    ABSTAIN_TEXT,
    PARTICLE,
    AnswerBuilder,
    Sources,
    candidates_for,
    is_abstention,
    split_answer,
    with_marks,
)
from rag.attribute import RULES
from rag.chunking import split_sentences
from rag.evaluate import uncited
from rag.pipeline import Pipeline
from rag.prompts import ANSWER_SENTENCES
from rag.schema import Answer, Document, Evidence

from .conftest import FakeEmbedder, FakeGenerator

TEXT_A = "Deal done. The US will ease curbs on ethane. China will approve licences."
TEXT_B = "Talks were held in London. Ford halted Explorer production."
DOCS = {
    "a": Document("a", "Deal article", date(2025, 6, 28), "Daily", TEXT_A, "x"),
    "b": Document("b", "Talks article", None, None, TEXT_B, "y"),
}
UNITS = [Evidence(1, "a", TEXT_A, 0, len(TEXT_A)), Evidence(2, "b", TEXT_B, 0, len(TEXT_B))]
EMBEDDER = FakeEmbedder()


def sources(docs: dict[str, Document] = DOCS, units: list[Evidence] = UNITS) -> Sources:
    spans = [(d, a, b) for d, doc in docs.items() for a, b in split_sentences(doc.text)]
    cands = candidates_for(spans, docs, units)
    return Sources(
        cands, EMBEDDER.embed([c.text for c in cands]), docs, EMBEDDER.embed, {"deal", "talks"}.__contains__
    )


# The fake embedder's vectors say little about whether a claim is about a question: the
# relevance rule has its own test below.
ANY_TOPIC = dataclasses.replace(RULES, min_relevance=-1.0, min_further_relevance=-1.0)


def answer(raw: str, question: str = "What was agreed?"):
    return AnswerBuilder(question, sources(), ANY_TOPIC).finish(raw, "fake", {})


REMARKS = (
    "Lutnick spoke on Friday. He said China will deliver magnets. Song Wendi, an analyst, called it a truce."
)


def remarks(raw: str, question: str = "What was said?"):
    """The answer built from ``raw`` with one article of remarks as the only source."""
    docs = {"c": Document("c", "Remarks", None, None, REMARKS, "z")}
    units = [Evidence(1, "c", REMARKS, 0, len(REMARKS))]
    return AnswerBuilder(question, sources(docs, units), ANY_TOPIC).finish(raw, "fake", {})


def test_quotes_are_cut_from_the_source_by_the_system():
    """Each quote is ``text[start:end]`` of its document; the model's numbers are only hints."""
    a = answer("The US will ease curbs on ethane [2]. China will approve licences [7].")
    assert [(c.n, c.doc_id, c.quote, c.verified) for c in a.citations] == [
        (1, "a", "The US will ease curbs on ethane.", True),
        (2, "a", "China will approve licences.", True),
    ]
    assert a.text == "The US will ease curbs on ethane [1]. China will approve licences [2]."
    assert all(DOCS[c.doc_id].text[c.start : c.end] == c.quote for c in a.citations)
    assert [s.doc_id for s in a.sources] == ["a"] and not a.abstained and not a.warnings


def test_a_quote_cited_twice_keeps_one_number():
    a = answer("China will approve licences [1]. Licences will be approved by China.")
    assert a.text == "China will approve licences [1]. Licences will be approved by China [1]."
    assert len(a.citations) == 1


def test_an_invented_number_is_dropped_and_reported():
    a = answer("China will approve 500 licences [1]. Talks were held in London [2].")
    assert a.text == "Talks were held in London [1]."
    assert a.warnings == ["dropped “China will approve 500 licences.”: 500 not in its sources"]


def test_a_claim_no_sentence_states_is_dropped():
    a = answer("Ford halted Explorer production [2]. Prices of magnets doubled overnight.")
    assert a.text == "Ford halted Explorer production [1]."
    assert len(a.warnings) == 1 and a.warnings[0].startswith("dropped “Prices of magnets doubled overnight.”")


def test_an_answer_with_no_backed_claim_abstains_with_the_reasons():
    a = answer("Senator Smith criticised the deal in July.")
    assert a.abstained and a.text == ABSTAIN_TEXT and a.citations == []
    assert a.warnings[0].startswith("dropped “Senator Smith criticised the deal in July.”")
    assert "no claim" in a.warnings[-1]


def test_an_answer_from_articles_that_never_name_what_the_question_names_abstains():
    """Ford's article is about a carmaker, but not a Japanese one: the backed claim answers
    another question."""
    a = answer("Ford halted Explorer production [2].", question="Which Japanese carmaker halted production?")
    assert a.abstained and a.citations == []
    assert a.warnings == ["the question names Japanese, which no cited article mentions"]
    assert not answer(
        "Ford halted Explorer production [2].", question="Which carmaker halted production?"
    ).abstained
    reported = "What did the Daily report about licences?"  # the outlet is named only in metadata
    assert not answer("China will approve licences [1].", question=reported).abstained


def test_a_sentence_joining_facts_of_two_articles_is_kept_as_two_claims():
    """No one quote, nor two neighbouring ones, back the whole sentence; each statement it
    joins is backed by its own article, and an unbacked one is dropped on its own."""
    a = answer("The US will ease curbs on ethane, and Ford halted Explorer production [1].")
    assert a.text == "The US will ease curbs on ethane [1]. Ford halted Explorer production [2]."
    assert [c.doc_id for c in a.citations] == ["a", "b"] and not a.warnings
    a = answer("The US will ease curbs on ethane, and Ford paid $5 for magnets.")
    assert a.text == "The US will ease curbs on ethane [1]."
    assert len(a.warnings) == 1 and a.warnings[0].startswith("dropped “Ford paid $5 for magnets.”: 5 not in")


def test_a_part_of_the_question_the_sources_leave_open_is_said_so():
    """An answer to one part of a two-part question is an answer, with the part it leaves
    open named; an answer to neither part abstains."""
    raw = "Ford halted Explorer production [2]."
    a = answer(raw, question="Which carmaker halted production, and how much did carmakers pay for magnets?")
    assert not a.abstained
    left_open = "No quoted answer was found for “How much did carmakers pay for magnets?”"
    assert a.text == f"Ford halted Explorer production [1]. {left_open}"
    a = answer(raw, question="What price did carmakers pay, and how much did magnets cost?")
    assert a.abstained and a.warnings == [
        "the question asks for a sum of money and no backed sentence gives one"
    ]


def test_question_and_headline_terms_ground_a_restatement():
    """May 2024 is in neither the quote nor the article's date line (June 28, 2025), so only
    a question that says it grounds it; June 2025 is grounded by the date line."""
    raw = "In May 2024, China will approve licences [1]."
    assert answer(raw).abstained
    assert not answer(raw, question="What did China promise in May 2024?").abstained
    assert not answer("In June 2025, China will approve licences [1].").abstained


def test_a_claim_the_model_judges_unstated_is_dropped_when_verifying():
    """The judge sees the claim and its quotes; a low P(yes) drops a claim that passed grounding."""
    seen = []

    def verify(claim, quotes, dated):
        seen.append((claim, quotes, dated))
        return 0.1 if "agreed" in claim else 0.9

    with_judge = dataclasses.replace(sources(), verify=verify)
    raw = "The US agreed to ease curbs on ethane [1]. China will approve licences [2]."
    a = AnswerBuilder("What was agreed?", with_judge, ANY_TOPIC).finish(raw, "fake", {})
    assert a.text == "China will approve licences [1]."
    assert "the model judges that its quotes do not state it (p=0.10)" in a.warnings[0]
    quotes = ["The US will ease curbs on ethane."]
    assert seen[0] == (
        "The US agreed to ease curbs on ethane.",
        quotes,
        "June 28, 2025",
    )  # with the date line


def test_a_promise_stated_as_done_is_dropped():
    """ "will ease" is not "eased"; "will approve" is kept as said."""
    a = answer("The US eased curbs on ethane [1]. China will approve licences [2].")
    assert a.text == "China will approve licences [1]."
    assert (
        a.warnings[0]
        == "dropped “The US eased curbs on ethane.”: it states as done what its quotes say only will be"
    )


def test_a_yes_or_no_verdict_is_cut_and_the_statement_checked():
    """No quote states "Yes" or "No": the verdict is cut off and what follows is checked like
    any claim, so "Yes, <the question as a statement>" stands only where its quotes state it."""
    asked = "Were talks held?"
    for raw in ("Yes, talks were held in London [1].", "No. Talks were held in London [1]."):
        a = answer(raw, question=asked)
        assert (
            a.text == "Talks were held in London [1]." and "a yes or no that no quote states" in a.warnings[0]
        )
    unbacked = answer("Yes, talks were held in Paris [1].", question=asked)
    assert unbacked.abstained and "Paris not in its sources" in unbacked.warnings[1]
    assert answer("Yes.", question=asked).abstained
    assert not PARTICLE.match("No official comment was issued.")  # "No" as a word, not a verdict


def test_an_answer_that_leaves_a_yes_or_no_question_unsettled_abstains():
    """A backed sentence that leaves out the place the question asks about reads as a yes it
    cannot back."""
    a = answer("Ford halted Explorer production [2].", question="Did Ford halt production in Paris?")
    assert a.abstained and "asks yes or no about “Paris”" in a.warnings[-1]
    assert not answer("Ford halted Explorer production [2].", question="Did Ford halt production?").abstained


def test_a_yes_or_no_question_grounds_no_claim():
    """It supposes nothing: its date must be in the claim's quotes."""
    dated = answer("Ford halted Explorer production in June [1].", question="Did Ford halt it in June?")
    assert dated.abstained and "June not in its sources" in dated.warnings[0]


def test_a_rejected_quote_gives_way_to_the_next_one_the_judge_accepts():
    """The judge turns down the best-ranked quote; the next quote that passes the rules is
    judged in turn, and cited when accepted. When every quote that passes the rules is turned
    down, the claim is dropped with the first verdict."""
    text_c = "Officials said Washington agreed that the US will ease curbs on ethane exports."
    docs = {**DOCS, "c": Document("c", "Ethane article", None, None, text_c, "z")}
    spans = [(d, a, b) for d, doc in docs.items() for a, b in split_sentences(doc.text)]
    cands = candidates_for(spans, docs, UNITS)
    judged = []

    def verify(claim, quotes, dated):
        judged.append(quotes)
        return 0.9 if accept in quotes[0] else 0.2

    with_judge = Sources(
        cands, EMBEDDER.embed([c.text for c in cands]), docs, EMBEDDER.embed, {"deal"}.__contains__, verify
    )
    accept = "Officials"
    a = AnswerBuilder("What was agreed?", with_judge, ANY_TOPIC).finish("The US will ease curbs.", "fake", {})
    assert [c.quote for c in a.citations] == [text_c] and not a.warnings
    assert judged == [["The US will ease curbs on ethane."], [text_c]]

    judged.clear()
    accept = "nothing"
    a = AnswerBuilder("What was agreed?", with_judge, ANY_TOPIC).finish("The US will ease curbs.", "fake", {})
    assert a.abstained and len(judged) == 2  # no third sentence passes the rules: none is judged
    assert "quotes do not state it (p=0.20)" in a.warnings[0]


def test_reading_stops_at_the_number_of_sentences_the_prompt_asks_for():
    """Among 300 other articles the model listed eleven "Prices of neodymium fell …" sentences
    from eleven articles; the prompt asks for at most ANSWER_SENTENCES."""
    raw = (
        "The US will ease curbs on ethane [1]. China will approve licences [1]. "
        "Talks were held in London [2]. Ford halted Explorer production [2]. "
        "Licences will be approved by China [1]."
    )
    a = answer(raw)
    assert len(a.text.split(". ")) == ANSWER_SENTENCES == 4 and "Licences will be" not in a.text
    assert a.warnings == ["stopped reading the answer: the answer has the 4 sentences asked for"]


def test_a_claim_not_about_the_question_is_dropped():
    """With the default rules: 'Ford halted Explorer production' shares no word with a question
    about talks, so the fake embedder puts it near orthogonal to it."""
    a = AnswerBuilder("Where were the talks held?", sources()).finish(
        "Talks were held in London [2]. Ford halted Explorer production [2].", "fake", {}
    )
    assert a.text == "Talks were held in London [1]."
    assert "it is not about the question" in a.warnings[0]


def test_a_further_claim_sharing_no_word_with_the_question_must_be_close_to_it():
    """The fake embedder puts sentences sharing no word near orthogonal. 'Ford halted Explorer
    production' is kept as the answer's first sentence, not as padding after an answer."""
    rules = dataclasses.replace(RULES, min_relevance=-1.0)
    question = "Where were the talks held?"
    a = AnswerBuilder(question, sources(), rules).finish(
        "Talks were held in London [2]. Ford halted Explorer production [2].", "fake", {}
    )
    assert a.text == "Talks were held in London [1]."
    (warning,) = a.warnings
    assert warning.startswith("dropped “Ford halted Explorer production.”: after the answer's first sentence")
    a = AnswerBuilder(question, sources(), rules).finish(
        "Ford halted Explorer production [2]. Talks were held in London [2].", "fake", {}
    )
    assert a.text == "Ford halted Explorer production [1]. Talks were held in London [2]."


def test_a_claim_that_fails_on_the_models_hint_is_attributed_again_without_it():
    """The model's [1] points at the wrong article; with a bonus large enough to decide, one of
    its sentences becomes the quote, and it names neither Ford nor the Explorer. Without the
    hint the sentence that states the claim is its quote."""
    rules = dataclasses.replace(ANY_TOPIC, hint_bonus=2.0)
    a = AnswerBuilder("What happened?", sources(), rules).finish(
        "Ford halted Explorer production [1].", "fake", {}
    )
    assert a.text == "Ford halted Explorer production [1]." and not a.warnings
    assert a.citations[0].doc_id == "b" and a.citations[0].quote == "Ford halted Explorer production."


def test_a_claim_that_only_restates_the_question_is_dropped():
    """It adds no term to a question asking what, so it answers nothing."""
    a = answer("China will approve licences [1].", question="What will China approve, licences?")
    assert a.abstained and "it only restates the question" in a.warnings[0]


def test_a_restated_yes_or_no_question_gives_way_to_its_quote():
    """To a yes-or-no question a restatement is a bare yes, which stands on its quote only as
    far as the checks read tense and modality ("China has approved the applications" passed
    the claim check on a sentence saying it "would process" licences). Where only the quote's
    wording differs, the quote itself says what the articles hold, and is given verbatim."""
    a = answer("Yes, China approved licences [1].", question="Has China approved licences?")
    assert (
        a.text == "China will approve licences [1]."
        and a.citations[0].quote == "China will approve licences."
    )
    assert "“China approved licences.” only restates the question: its quote is given instead" in a.warnings
    unbacked = answer(
        "Yes, China approved licences in Japan [1].", question="Has China approved licences in Japan?"
    )
    assert unbacked.abstained  # Japan is in no quote: the quote is not about what it restates


def test_a_claim_that_leans_on_the_one_before_must_quote_what_follows_it():
    """ "It" in an answer means what the sentence before it says; its quote must mean the same:
    the last claim's own sentence, or a sentence leaning back on it in the article."""
    a = answer("China will approve licences [1]. It will ease curbs on ethane [1].")
    assert a.text == "China will approve licences [1]."
    assert "it leans on “China will approve licences.”, which its quote does not follow" in a.warnings[0]
    a = answer("The US will ease curbs on ethane [1]. It will approve licences [1].")
    assert a.text == "The US will ease curbs on ethane [1]."  # the quote says China will, not the US
    raw = "Lutnick spoke on Friday [1]. He said China will deliver magnets [1]. He called it a truce [1]."
    assert remarks(raw).text == "Lutnick spoke on Friday [1]. He said China will deliver magnets [2]."
    raw = "Song Wendi is an analyst [1]. He called it a truce [1]."
    assert remarks(raw).text == "Song Wendi is an analyst [1]. He called it a truce [1]."


def test_what_a_named_speaker_said_is_quoted_from_that_speaker():
    """For "What did X say?", a claim's quote, the sentence before it, or its article's outlet
    names X: what someone else said answers another question."""
    a = answer(
        "China will approve licences [1]. Talks were held in London [2].",
        question="What did the Daily report?",
    )
    assert a.text == "China will approve licences [1]."  # the Daily is article a's outlet
    assert "its quote is not what the question's speaker said" in a.warnings[0]
    a = remarks(
        "He said China will deliver magnets [1]. Song Wendi called it a truce [1].", "What did Lutnick say?"
    )
    assert a.text == "He said China will deliver magnets [1].", a.warnings


def test_in_a_question_of_parts_the_speaker_rule_holds_for_claims_about_the_speakers_part():
    """ "What did Lutnick say about magnets" asks for Lutnick's words; a claim about the other
    part, who called it a truce, needs no Lutnick."""
    text = (
        "Lutnick spoke on Friday. He said China will deliver magnets. Song Wendi, an analyst, "
        "said magnet prices will rise. Song Wendi called it a truce."
    )
    docs = {"c": Document("c", "Remarks", None, None, text, "z")}
    builder = AnswerBuilder(
        "What did Lutnick say about magnets, and who called the deal a truce?",
        sources(docs, [Evidence(1, "c", text, 0, len(text))]),
        ANY_TOPIC,
    )
    raw = "China will deliver magnets [1]. Magnet prices will rise [1]. Song Wendi called it a truce [1]."
    a = builder.finish(raw, "fake", {})
    assert a.text == "China will deliver magnets [1]. Song Wendi called it a truce [2]."
    assert a.warnings == [
        "dropped “Magnet prices will rise.”: its quote is not what the question's speaker said"
    ]


def test_a_claim_that_negates_its_quote_is_dropped():
    a = answer("China will not approve licences [1]. Talks were held in London [2].")
    assert a.text == "Talks were held in London [1]."
    assert "says no where its quotes say yes" in a.warnings[0]


def test_a_claim_that_states_a_hedged_quote_as_fact_is_dropped():
    text = "Ford halted Explorer production. Shipments could resume in July, analysts said."
    docs = {"c": Document("c", "Outlook", None, None, text, "z")}
    units = [Evidence(1, "c", text, 0, len(text))]
    builder = AnswerBuilder("What happened?", sources(docs, units), ANY_TOPIC)
    a = builder.finish("Ford halted Explorer production [1]. Shipments resumed in July [1].", "fake", {})
    assert a.text == "Ford halted Explorer production [1]."
    assert a.warnings == [
        "dropped “Shipments resumed in July.”: it states as fact what its quotes say only may be so"
    ]


def test_a_claim_whose_best_quote_hedges_it_may_cite_one_that_states_it():
    hedged, plain = "Shipments could resume in July, analysts said.", "Shipments resumed in July."
    docs = {
        "c": Document("c", "Outlook", None, None, hedged, "z"),
        "d": Document("d", "Update", None, None, plain, "w"),
    }
    units = [Evidence(1, "c", hedged, 0, len(hedged)), Evidence(2, "d", plain, 0, len(plain))]
    builder = AnswerBuilder("What happened?", sources(docs, units), ANY_TOPIC)
    a = builder.finish("Shipments resumed in July, analysts said [1].", "fake", {})
    assert [c.quote for c in a.citations] == [plain] and a.warnings == []


def test_feed_releases_only_complete_checked_sentences():
    builder = AnswerBuilder("What was agreed?", sources(), ANY_TOPIC)
    assert builder.feed("China will approve licences [1]. Talks") == ["China will approve licences [1]."]
    assert builder.feed("China will approve licences [1]. Talks were held in London. China shipped 9") == [
        "Talks were held in London [2]."
    ]
    assert (
        builder.feed(
            "China will approve licences [1]. Talks were held in London. China shipped 9 tonnes.", True
        )
        == []
    )
    assert builder.warnings and "9 not in its sources" in builder.warnings[0]


def test_a_last_sentence_cut_off_by_the_budget_is_dropped():
    raw = "Talks were held in London [2]. China will approve licences for"
    a = AnswerBuilder("What was agreed?", sources(), ANY_TOPIC).finish(raw, "fake", {}, cut_off=True)
    assert a.text == "Talks were held in London [1]."
    assert a.warnings == ["dropped “China will approve licences for”: cut off unfinished"]
    assert answer("Talks were held in London [2]. China will approve licences [1]").text.endswith("[2]")


def test_a_repeated_claim_or_two_unbacked_ones_in_a_row_stop_the_answer():
    """The model looping or inventing: what follows is not read, and the stream is closed."""
    looping = answer(
        "Talks were held in London [2]. Talks were held in London [2]. China will approve licences."
    )
    assert looping.text == "Talks were held in London [1]."
    assert looping.warnings == ["stopped reading the answer: the model repeated itself"]
    inventing = answer(
        "Talks were held in London. Prices rose 5%. Prices rose 7%. China will approve licences."
    )
    assert inventing.text == "Talks were held in London [1]."
    assert inventing.warnings[-1] == "stopped reading the answer: 2 claims in a row had no backing"


def test_abstention_phrasings_abstain_without_citations():
    for raw in (
        "The sources don't say.",
        "The articles do not mention the price.",
        "No information is given.",
    ):
        assert is_abstention(raw)
        a = answer(raw)
        assert a.abstained and a.citations == []


def test_partial_abstention_with_an_answer_is_an_answer():
    raw = "The sources don't say the price. China will approve licences [1]."
    assert not is_abstention(raw)
    a = answer(raw)
    assert not a.abstained and a.text == "China will approve licences [1]."


def test_split_answer_keeps_markers_with_sentences():
    assert split_answer("A rose. [1] B fell [2].") == ["A rose. [1]", "B fell [2]."]
    assert split_answer("Talks ended.[1] Ford halted.") == ["Talks ended. [1]", "Ford halted."]


def test_an_initialism_inside_an_answer_sentence_does_not_split_it():
    """Cut by the article rules: "U.S." before "Commerce" is not a sentence end."""
    raw = "Talks were held, U.S. Commerce officials said in London [3]."
    assert split_answer(raw) == [raw]
    assert with_marks("Talks were held in the U.S.", "[1]") == "Talks were held in the U.S. [1]"


def test_each_sentence_of_a_claim_glued_from_two_gets_the_marks():
    """x01 among distractors: the raw text has a mark between the two sentences, so they were
    checked as one claim; shown with the marks only at its end, the first would cite nothing."""
    glued = "China banned gallium exports to the U.S. Like rare earths, these metals matter."
    text = with_marks(glued, "[1][2]")
    assert (
        text
        == "China banned gallium exports to the U.S. [1][2] Like rare earths, these metals matter [1][2]."
    )
    assert uncited(Answer("Which metals?", text)) == []


def test_to_markdown_and_to_dict():
    a = answer("The US will ease curbs on ethane [1].")
    md = a.to_markdown()
    assert md.splitlines()[0] == "The US will ease curbs on ethane [1]."
    assert '[1] "The US will ease curbs on ethane." (Deal article, Daily, 2025-06-28)' in md
    d = a.to_dict()
    assert d["citations"][0]["published"] == "2025-06-28" and d["abstained"] is False


def test_an_open_part_is_taken_up_in_a_pass_of_its_own():
    """A part the first pass leaves open is asked again alone; its claims join the answer and
    are checked like the others, and a part still open after it is named."""
    question = "What will China approve, and which carmaker halted production?"
    builder = AnswerBuilder(question, sources(), ANY_TOPIC)
    builder.end("China will approve licences [1].")
    assert builder.left_open() == ["Which carmaker halted production?"]
    builder.take_up("Which carmaker halted production?")
    a = builder.finish("Talks were held [2]. Ford halted Explorer production [2]. Ford paid $5.", "fake", {})
    assert a.text == "China will approve licences [1]. Ford halted Explorer production [2]."
    assert builder.left_open() == []
    assert (
        a.warnings[0]
        == "dropped “Talks were held.”: it does not give a name, which the part it answers asks for"
    )
    assert a.warnings[1].startswith("dropped “Ford paid $5.”: 5 not in its sources")

    builder = AnswerBuilder(question, sources(), ANY_TOPIC)
    builder.end("China will approve licences [1].")
    builder.take_up("Which carmaker halted production?")
    a = builder.finish("The sources don't say.", "fake", {})
    open_note = "No quoted answer was found for “Which carmaker halted production?”"
    assert a.text == f"China will approve licences [1]. {open_note}"


def test_a_claim_of_a_part_pass_must_be_about_that_part():
    """With the default rules: asked only which carmaker halted production, a claim about
    the talks (the other part) is not what the pass is for."""
    builder = AnswerBuilder("Where were the talks held, and which carmaker halted production?", sources())
    builder.end("Talks were held in London [2].")
    builder.take_up("Which carmaker halted production?")
    a = builder.finish("The talks were held in London [2]. Ford halted Explorer production [2].", "fake", {})
    assert a.text == "Talks were held in London [1]. Ford halted Explorer production [2]."
    assert a.warnings[0].startswith("dropped “The talks were held in London.”: it is not about the question")


def test_nothing_is_taken_up_when_no_part_or_every_part_is_answered_or_none_is():
    one = AnswerBuilder("Which carmaker halted production?", sources(), ANY_TOPIC)
    one.end("Talks were held in London [2].")
    two = "What will China approve, and which carmaker halted production?"
    both = AnswerBuilder(two, sources(), ANY_TOPIC)
    both.end("China will approve licences [1]. Ford halted Explorer production [2].")
    none = AnswerBuilder("How much did Ford pay, and which carmaker halted production?", sources(), ANY_TOPIC)
    none.end("China shipped 9 tonnes [1].")
    assert one.left_open() == both.left_open() == none.left_open() == []


# -- the pipeline with fakes -------------------------------------------------------------


@pytest.fixture
def fake_pipeline(seeds, tmp_path):
    from rag.config import Settings

    def make(*outputs, **settings_changes):
        generator = FakeGenerator(*outputs)
        places = {"corpus_dir": seeds, "index_dir": tmp_path / "idx"}
        settings = Settings.from_env(**(places | settings_changes))
        return Pipeline(
            settings, embedder=FakeEmbedder(), generator_factory=lambda name: generator
        ), generator

    return make


@pytest.mark.parametrize("bad", ["", "   \n", None, 42, "x" * 2001])
def test_bad_questions_raise_value_error(fake_pipeline, bad):
    pipeline, generator = fake_pipeline()
    with pytest.raises(ValueError, match="question"):
        pipeline.ask(bad)
    assert generator.prompts == []


def test_a_new_generator_starts_loading_in_the_background_once(fake_pipeline):
    """The weights load while the embedder and the index do. A load that fails there is left
    to the first real use to report (here the fake's load fails; nothing is raised)."""
    import threading

    pipeline, generator = fake_pipeline()
    loading = threading.Event()
    calls = []

    def load(judge):
        calls.append(judge)
        loading.set()
        raise RuntimeError("no weights")

    generator.load = load
    assert pipeline.generator() is generator and loading.wait(5)
    assert pipeline.generator() is generator and calls == [True]  # loaded once, judge included


def test_missing_index_is_built_with_a_message(fake_pipeline, tmp_path, caplog):
    pipeline, _ = fake_pipeline("Ford halted production of the Explorer SUV [1].")
    answer = pipeline.ask("Which carmaker halted Explorer production?")
    assert "No index in" in caplog.text and (tmp_path / "idx" / "current").exists()
    assert not answer.abstained and answer.citations


def test_whole_corpus_mode_reads_every_article_and_streams_checked_sentences(fake_pipeline):
    """One model call: the system message holds every article; only backed sentences are streamed."""
    pipeline, generator = fake_pipeline(
        "Ford halted production of the Explorer SUV [1]. Ford sold 10,000 magnets in July [1]."
    )
    items = list(pipeline.ask_stream("Which carmaker halted Explorer production?"))
    final = items[-1]
    assert [i for i in items[:-1]] == [final.text + " "]
    assert final.context == "corpus" and "Explorer" in final.text and "10,000" not in final.text
    assert final.warnings[0].startswith("dropped “Ford sold 10,000 magnets in July.”")
    [(system, user)] = generator.prompts
    assert system["content"].count("Article [") == 5 and "Which carmaker" in user["content"]
    assert (
        final.timings["completion_tokens"] > 0 and final.timings["total_ms"] >= final.timings["retrieve_ms"]
    )


def test_a_part_left_open_is_asked_again_with_the_same_context(fake_pipeline):
    """The second pass puts only that part to the model, after the same cached articles, and
    its checked sentences stream after the first pass's."""
    pipeline, generator = fake_pipeline(
        "The licences may only be valid for six months [1]. Magnets are useful.",
        "Ford halted production of its Explorer SUV [1].",
    )
    *pieces, final = list(
        pipeline.ask_stream("How long are the licences valid, and which carmaker had to halt production?")
    )
    assert "".join(pieces).strip() == final.text
    assert final.text.startswith("The licences may only be valid for six months [1]. Ford halted")
    first, second = generator.prompts
    assert first[0] == second[0] and "How long" in first[-1]["content"]
    assert "Question: Which carmaker had to halt production?" in second[-1]["content"]
    assert "How long" not in second[-1]["content"]
    assert final.timings["completion_tokens"] == 13 + 8  # both passes counted


def test_the_last_sentence_of_each_part_pass_is_checked(fake_pipeline):
    """With two parts left open, the first part's pass ends before the second begins: its last
    sentence, complete only when the model stops, is checked and kept like the others."""
    pipeline, generator = fake_pipeline(
        "The licences may only be valid for six months [1].",
        "Ford halted production of its Explorer SUV [1].",
        "Lutnick said they are going to deliver rare earths [1].",
    )
    question = "How long are the licences valid? Which carmaker had to halt production? What did Lutnick say?"
    *pieces, final = list(pipeline.ask_stream(question))
    assert len(generator.prompts) == 3 and "".join(pieces).strip() == final.text
    assert "Ford halted production of its Explorer SUV" in final.text


def test_a_one_sentence_answer_is_streamed_before_the_answer_too(fake_pipeline):
    """The last sentence is known complete only when the model stops; it is still sent as text."""
    pipeline, _ = fake_pipeline("Ford halted production of the Explorer SUV [1].")
    *pieces, final = list(pipeline.ask_stream("Which carmaker halted Explorer production?"))
    assert pieces == [final.text + " "] and not final.abstained


def test_generation_stops_once_the_model_repeats_itself(fake_pipeline):
    claim = "Ford halted production of the Explorer SUV [1]. "
    pipeline, _ = fake_pipeline(claim * 3 + "Then many more words follow here " * 20)
    answer = pipeline.ask("Which carmaker halted Explorer production?")
    assert answer.text == claim.strip()
    assert answer.timings["completion_tokens"] < 30  # the 100 words after the loop were never read
    assert answer.warnings == ["stopped reading the answer: the model repeated itself"]


def test_generation_stops_inside_a_sentence_that_loops(fake_pipeline):
    """A sentence caught in a loop never ends, so it would run to the token budget."""
    claim = "Ford halted production of the Explorer SUV [1]."
    pipeline, _ = fake_pipeline(f"{claim} The staff reported that " + "the EU staff reported that " * 40)
    answer = pipeline.ask("Which carmaker halted Explorer production?")
    assert answer.text == claim
    assert answer.timings["completion_tokens"] < 30
    assert answer.warnings == ["stopped reading the answer: the model repeated itself"]


def test_evidence_mode_numbers_the_retrieved_passages(fake_pipeline):
    pipeline, generator = fake_pipeline("Ford halted production of the Explorer SUV [1].", context="evidence")
    answer = pipeline.ask("Which carmaker halted Explorer production?")
    [(system, user)] = generator.prompts
    assert "Article [" not in system["content"] and user["content"].startswith("Passages:\n[1] ")
    assert answer.context == "evidence" and not answer.abstained


def test_a_corpus_over_the_budget_falls_back_to_evidence(fake_pipeline):
    pipeline, _ = fake_pipeline("Ford halted production of the Explorer SUV [1].", corpus_tokens=100)
    assert pipeline.ask("Which carmaker halted Explorer production?").context == "evidence"


def test_follow_up_in_evidence_mode_is_rewritten_before_retrieval(fake_pipeline):
    pipeline, generator = fake_pipeline(
        "What did Ford halt?", "Ford halted production of the Explorer SUV [1].", context="evidence"
    )
    history = [
        {"role": "user", "content": "Which carmaker halted production?"},
        {"role": "assistant", "content": "Ford [1]."},
    ]
    answer = pipeline.ask("What did it halt?", history=history)
    rewrite_prompt = generator.prompts[0][0]["content"]
    assert "Which carmaker halted production?" in rewrite_prompt and "What did it halt?" in rewrite_prompt
    system, *turns, user = generator.prompts[1]
    assert turns == [history[0], {"role": "assistant", "content": "Ford."}]  # its markers removed
    assert "Question: What did Ford halt?" in user["content"]
    assert answer.query == "What did Ford halt?" and answer.question == "What did it halt?"


def test_follow_up_in_corpus_mode_resends_the_first_turn_as_the_model_saw_it(fake_pipeline):
    """No rewrite: the model reads the conversation. The first turn goes back token for token as
    it was sent and written (instructions, [n] hints), so its KV cache is reused."""
    first_raw = "Ford halted production of the Explorer SUV [1]."
    pipeline, generator = fake_pipeline(first_raw, "Ford halted production of the Explorer SUV [1].")
    first = pipeline.ask("Which carmaker halted Explorer production?")
    history = [
        {"role": "user", "content": first.question},
        {"role": "assistant", "content": first.text},
    ]
    answer = pipeline.ask("When did Ford halt Explorer production?", history=history)
    (system1, user1), (system2, *turns, user2) = generator.prompts
    assert system2 == system1 and turns == [user1, {"role": "assistant", "content": first_raw}]
    assert user2["content"].startswith("Question: When did Ford halt Explorer production?")
    assert (
        answer.query == "Which carmaker halted Explorer production? When did Ford halt Explorer production?"
    )


def test_off_topic_question_abstains_before_generation(fake_pipeline):
    pipeline, generator = fake_pipeline()
    answer = pipeline.ask("What is the capital of France?")
    assert answer.abstained and answer.citations == [] and generator.prompts == []


def test_missing_model_says_how_to_provision(seeds, tmp_path):
    from rag.config import Settings
    from rag.models import ModelError

    settings = Settings.from_env(corpus_dir=seeds, index_dir=tmp_path / "idx", cache_dir=tmp_path / "empty")
    with pytest.raises(ModelError, match="rag models pull"):
        Pipeline(settings, embedder=FakeEmbedder()).ask("What did the US give up?")
