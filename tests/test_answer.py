"""Citation checking and abstention, driven by a fake generator's hand-written outputs."""

from __future__ import annotations

from datetime import date

import pytest

from rag.answer import ABSTAIN_TEXT, build_answer, is_abstention, split_answer, with_marks
from rag.pipeline import Pipeline
from rag.schema import Document, Evidence

from .conftest import FakeEmbedder, FakeGenerator

TEXT_A = "Deal done. The US will ease curbs on ethane. China will approve licences."
TEXT_B = "Talks were held in London. Ford halted Explorer production."
DOCS = {
    "a": Document("a", "Deal article", date(2025, 6, 28), "Daily", TEXT_A, "x"),
    "b": Document("b", "Talks article", None, None, TEXT_B, "y"),
}
EVIDENCE = [
    Evidence(1, "a", "The US will ease curbs on ethane.", 11, 44),
    Evidence(2, "a", "China will approve licences.", 45, 73),
    Evidence(3, "b", "Talks were held in London.", 0, 26),
]


def answer(raw: str):
    return build_answer("q?", raw, EVIDENCE, DOCS, model="fake", timings={})


def test_quotes_are_cut_from_the_source_and_verified():
    """Each quote is ``text[start:end]`` of its document, never text the model typed."""
    a = answer("The US eased curbs on ethane [1]. China approves licences [2].")
    assert [(c.n, c.doc_id, c.quote, c.verified) for c in a.citations] == [
        (1, "a", "The US will ease curbs on ethane.", True),
        (2, "a", "China will approve licences.", True),
    ]
    assert all(DOCS[c.doc_id].text[c.start : c.end] == c.quote for c in a.citations)
    assert [s.doc_id for s in a.sources] == ["a"]
    assert not a.abstained and not a.uncited_sentences


def test_out_of_range_number_is_removed_and_reported():
    """[9] does not exist: it is dropped and reported; passage 1 holds only 2 of the second
    sentence's 5 content words (ethane, curb), too few to cite it instead, so the sentence is uncited."""
    a = answer("Talks were in London [3]. Ethane curbs worried many traders [9].")
    assert a.text == "Talks were in London [1]. Ethane curbs worried many traders."
    assert [c.doc_id for c in a.citations] == ["b"]
    assert "removed citation [9]: there is no source 9" in a.warnings
    assert a.uncited_sentences == ["Ethane curbs worried many traders."]


def test_duplicated_citations_collapse_to_one():
    """[2][2] in one sentence and [2] again later: one citation, numbered 1 everywhere."""
    a = answer("China will approve [2][2]. It will approve licences [2].")
    assert a.text == "China will approve [1]. It will approve licences [1]."
    assert len(a.citations) == 1 and a.citations[0].quote == "China will approve licences."


def test_adjacent_and_comma_citations_are_renumbered_in_order_of_use():
    """[3][1] and [1, 3]: first use decides the number, so evidence 3 becomes [1] and 1 becomes [2]."""
    a = answer("Talks in London eased ethane curbs [3][1]. Ethane curbs and London talks [1, 3].")
    assert a.text == "Talks in London eased ethane curbs [1][2]. Ethane curbs and London talks [2][1]."
    assert [c.doc_id for c in a.citations] == ["b", "a"]
    assert [s.doc_id for s in a.sources] == ["b", "a"]


def test_marker_after_the_full_stop_stays_with_its_sentence():
    a = answer("Talks were in London. [3] China approves licences. [2]")
    assert a.text == "Talks were in London [1]. China approves licences [2]."
    assert a.uncited_sentences == []


def test_citation_moves_to_the_passage_that_states_the_sentence():
    """The model cites [1] (about ethane) for London talks; only passage 3 holds "talks", "held", "London"."""
    a = answer("Talks were held in London [1].")
    assert [c.doc_id for c in a.citations] == ["b"] and a.citations[0].quote == "Talks were held in London."
    assert any("replaced" in w for w in a.warnings)


def test_uncited_sentence_gets_the_passage_that_clearly_states_it():
    a = answer("China will approve licences.")
    assert a.text == "China will approve licences [1]."
    assert a.citations[0].quote == "China will approve licences."
    assert a.uncited_sentences == [] and any("citation added" in w for w in a.warnings)


def test_paraphrase_keeps_the_models_citation():
    """ "Curbs on ethane were loosened": passage 1 holds 2 of its 3 content words, so it stays."""
    a = answer("Curbs on ethane were loosened [1].")
    assert a.citations[0].quote == "The US will ease curbs on ethane." and not a.warnings


def test_sentence_no_source_supports_is_dropped():
    """ "He promised to repair the old library" shares no content word with any passage."""
    a = answer("Talks were held in London [3]. He promised to repair the old library [2].")
    assert a.text == "Talks were held in London [1]."
    assert any("no source supports" in w for w in a.warnings)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Talks were held in London, as stated in passage [3].", "Talks were held in London [1]."),
        ("According to passage [2], China will approve licences.", "China will approve licences [1]."),
        ("Passage [3] states that talks were held in London.", "Talks were held in London [1]."),
        ("Ethane curbs ease according to passages [1] and [2].", "Ethane curbs ease [1]."),
        # a named source, not the passages: kept
        ("China will approve licences, according to the ministry [2].", None),
    ],
)
def test_talk_about_the_passages_is_dropped_and_its_markers_kept(raw, text):
    """The last case keeps its wording; in the fourth, passage 2 shares no word with the
    sentence and is dropped by the support check."""
    assert answer(raw).text == (text or raw.replace("[2]", "[1]"))


def test_a_sentence_only_about_the_passages_is_dropped():
    a = answer("Talks were held in London [3]. This statement was made in passage [3].")
    assert a.text == "Talks were held in London [1]."
    assert "dropped a sentence about the passages: “This statement was made in passage.”" in a.warnings


def test_answer_with_no_supported_sentence_abstains():
    a = answer("The stadium roof was praised [1].")
    assert a.abstained and a.citations == []


def test_sentence_without_citation_is_flagged():
    a = answer("Talks were in London [3]. Ethane curbs worried many traders.")
    assert a.uncited_sentences == ["Ethane curbs worried many traders."]
    assert "1 sentence(s) carry no citation" in a.warnings


@pytest.mark.parametrize(
    "raw",
    [
        "The sources don't say.",
        "The sources do not mention the price.",
        "The provided articles do not specify this.",
        "I cannot answer that from the sources.",
        "There is no information about this in the sources [1].",
        "The price is not mentioned.",
    ],
)
def test_abstention_phrasings_abstain_without_citations(raw):
    a = answer(raw)
    assert a.abstained and a.text == ABSTAIN_TEXT and a.citations == [] and a.sources == []


def test_partial_abstention_with_an_answer_is_an_answer():
    raw = "The sources don't say the price. Licences are approved by China [2]."
    assert not is_abstention(raw)
    a = answer(raw)
    assert not a.abstained and a.citations[0].doc_id == "a"


def test_split_answer_keeps_markers_with_sentences():
    assert split_answer("A rose. [1] B fell [2].") == ["A rose. [1]", "B fell [2]."]
    assert split_answer("Talks ended.[1] Ford halted.") == ["Talks ended. [1]", "Ford halted."]


def test_an_initialism_inside_an_answer_sentence_does_not_split_it():
    """Cut by the article rules: "U.S." before "Commerce" is not a sentence end, so the
    sentence keeps one citation at its end instead of two halves."""
    raw = "Talks were held, U.S. Commerce officials said in London [3]."
    assert split_answer(raw) == [raw]
    assert answer(raw).text == "Talks were held, U.S. Commerce officials said in London [1]."
    assert with_marks("Talks were held in the U.S.", "[1]") == "Talks were held in the U.S. [1]"


def test_unverifiable_quote_is_never_marked_verified():
    """Evidence whose text no longer matches the document (e.g. the file changed) is unverified."""
    stale = [Evidence(1, "a", "The US will lift all curbs.", 11, 44)]
    a = build_answer("q?", "Curbs eased [1].", stale, DOCS, model="fake", timings={})
    assert a.citations[0].verified is False


def test_to_markdown_and_to_dict():
    a = answer("The US eased curbs on ethane [1].")
    md = a.to_markdown()
    assert md.splitlines()[0] == "The US eased curbs on ethane [1]."
    assert '[1] "The US will ease curbs on ethane." (Deal article, Daily, 2025-06-28)' in md
    d = a.to_dict()
    assert d["citations"][0]["published"] == "2025-06-28" and d["abstained"] is False


# -- the pipeline with fakes -------------------------------------------------------------


@pytest.fixture
def fake_pipeline(seeds, tmp_path):
    from rag.config import Settings

    def make(*outputs):
        generator = FakeGenerator(*outputs)
        settings = Settings.from_env(corpus_dir=seeds, index_dir=tmp_path / "idx")
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


def test_missing_index_is_built_with_a_message(fake_pipeline, tmp_path, caplog):
    pipeline, _ = fake_pipeline("1", "Ford halted Explorer production [1].")
    answer = pipeline.ask("Which carmaker halted Explorer production?")
    assert "No index in" in caplog.text and (tmp_path / "idx" / "current").exists()
    assert not answer.abstained and answer.citations


def test_stream_yields_text_then_the_answer(fake_pipeline):
    pipeline, generator = fake_pipeline("1", "Ford halted production [1].")
    items = list(pipeline.ask_stream("Which carmaker halted Explorer production?"))
    assert (
        all(isinstance(i, str) for i in items[:-1]) and "".join(items[:-1]) == "Ford halted production [1]."
    )
    final = items[-1]
    assert final.text == "Ford halted production [1]."
    assert (
        final.timings["completion_tokens"] == 4 and final.timings["total_ms"] >= final.timings["retrieve_ms"]
    )
    (choose_system, choose), (system, user) = generator.prompts
    assert system == choose_system and system["role"] == "system"
    assert "Which carmaker halted Explorer production?" in user["content"]
    assert user["content"].split("Question:")[0] == choose["content"].split("Question:")[0]


@pytest.mark.parametrize("reply", ["2", "Passage 2."])
def test_the_answer_is_built_on_the_chosen_passage(fake_pipeline, reply):
    pipeline, generator = fake_pipeline(reply, "Ford halted production [2].")
    answer = pipeline.ask("Which carmaker halted Explorer production?")
    assert "Answer from passage [2]" in generator.prompts[1][1]["content"]
    assert not answer.abstained and answer.timings["choose_ms"] >= 0


@pytest.mark.parametrize("reply", ["0", "None of them.", "99"])
def test_no_chosen_passage_means_abstention_without_an_answer_step(fake_pipeline, reply):
    """0, no number, or a number with no passage: the model found nothing that answers."""
    pipeline, generator = fake_pipeline(reply)
    answer = pipeline.ask("Which carmaker halted Explorer production?")
    assert answer.abstained and answer.citations == [] and len(generator.prompts) == 1
    assert "no passage that answers" in answer.warnings[0]


def test_follow_up_is_rewritten_before_retrieval(fake_pipeline):
    pipeline, generator = fake_pipeline("What did Ford halt?", "1", "Ford halted Explorer production [1].")
    history = [
        {"role": "user", "content": "Which carmaker halted production?"},
        {"role": "assistant", "content": "Ford."},
    ]
    answer = pipeline.ask("What did it halt?", history=history)
    rewrite_prompt = generator.prompts[0][0]["content"]
    assert "Which carmaker halted production?" in rewrite_prompt and "What did it halt?" in rewrite_prompt
    assert "What did Ford halt?" in generator.prompts[1][1]["content"]
    assert answer.query == "What did Ford halt?" and answer.question == "What did it halt?"


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
