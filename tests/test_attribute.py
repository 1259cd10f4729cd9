"""Attribution and grounding as pure functions, on sentences written for each rule."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from rag.attribute import (
    RULES,
    Candidate,
    about_parts,
    actors,
    asked_kind,
    attribute,
    canonical,
    conjuncts,
    content_terms,
    coverage,
    gives_kind,
    headline,
    missing_terms,
    names,
    numbers,
    open_parts,
    overstated,
    polar,
    promised,
    question_parts,
    roles,
    speaker,
    swapped_actors,
    swapped_roles,
    unmentioned,
    unsettled,
    weakest_part,
)

TRUMP = "Trump said China will supply all magnets and necessary rare earths to the U.S. up front."


def test_numbers_are_normalised_so_equal_amounts_match():
    assert numbers("10,000 tonnes, up 60.3%, six months, $1.2 billion, in 2025") == {
        "10000",
        "60.3",
        "6 month",
        "1200000000",
        "2025",
    }
    assert numbers("1,200 million") == numbers("1.2 billion") == {"1200000000"}
    assert numbers("the 5th of June") == {"5"}
    assert numbers("one of the largest") == set()  # "one" is not treated as a figure
    assert numbers("six-month licences") == numbers("for 6 months") == {"6 month"}


def test_a_duration_does_not_ground_a_count():
    """x17 of the extra set: "temporary six-month export licences" does not say six licences."""
    quote = "China issued temporary six-month export licences to three automakers."
    assert missing_terms("China approved six export licences.", quote) == ["6"]
    assert missing_terms("The licences are valid for six months.", quote) == []


def test_different_figures_never_match():
    """The external set cited '7,742.2 tons … up 60.3%' under a quote saying 353 tonnes, up 660%."""
    claim = "Exports reached 7,742.2 tons, up 60.3%."
    quote = "Exports of magnets reached 353 tonnes in May, up 660% from April."
    assert missing_terms(claim, quote) == ["60.3", "7742.2"]
    assert missing_terms("Exports reached 353 tonnes, up 660%.", quote) == []


def test_an_invented_number_month_and_name_are_caught():
    """The issue's example: nothing in Trump's sentence says 10,000, tonnes or July."""
    claim = "China shipped approximately 10,000 tonnes of rare earth magnets to the US in July 2025."
    assert missing_terms(claim, TRUMP) == ["2025", "10000", "July"]


def test_aliases_are_folded_to_one_name():
    assert canonical("Beijing and the U.S. agreed; American firms and the United States") == (
        "China and the US agreed; US firms and the US"
    )
    assert canonical("former U. S. President Trump") == "former US President Trump"  # as the model writes it
    assert missing_terms("Beijing will supply magnets to Washington.", TRUMP) == []
    assert missing_terms("The EU will supply magnets.", TRUMP) == ["EU"]


def test_a_common_first_word_is_not_a_name_but_a_rare_one_is():
    common = {"rare", "prices"}.__contains__
    assert names("Rare earth prices fell in London.", common) == {"London"}
    assert names("Ford halted Explorer production.", common) == {"Ford", "Explorer"}
    assert names("China's exports and the US-China talks", common) == {"China", "US"}


def test_question_and_headline_terms_count_as_grounding():
    """Restating the question ("in June 2025") is not a violation; a figure it lacks still is."""
    claim = "In June 2025, China agreed to supply magnets."
    question = "What did China agree to in June 2025?"
    assert missing_terms(claim, TRUMP) == ["2025", "June"]
    assert missing_terms(claim, question + "\n" + TRUMP) == []
    assert missing_terms(claim, headline("Rare earth deal", date(2025, 6, 28)) + "\n" + TRUMP) == []
    assert headline("Deal", date(2025, 6, 5)) == "Deal\nJune 5, 2025"
    assert headline("Deal", None) == "Deal"


def test_content_terms_and_coverage():
    assert content_terms("The licences expired in the United States") == {"licenc", "expir", "us"}
    assert coverage("Licences expire after six months.", "The licences expire after six months.") == 1.0
    assert coverage("Traders reacted positively.", "MOFCOM will expedite approvals.") == 0.0
    assert coverage("They spoke on June 5.", "The call was on 5 June.", given="When did they speak?") == 2 / 3


def test_restating_the_question_is_not_support():
    """x09 of the extra set: the question supplies "first shipments … arrive in the US"; the claim
    adds "expected" and "June 2025", which the quote does not hold. A claim adding nothing is
    judged on all its words."""
    question = "When will the first rare earth shipments under the deal arrive in the US?"
    claim = "The first rare earth shipments are expected to arrive in the US in June 2025."
    quote = "China will accelerate the export licensing of rare earths to the United States."
    assert coverage(claim, quote) > 0.3
    assert coverage(claim, quote, given=question) == 0.0
    assert (
        coverage("Shipments will arrive.", "Shipments will arrive soon.", given="When will shipments arrive?")
        == 1.0
    )


def candidates(*texts: str) -> list[Candidate]:
    return [Candidate("d", 100 * i, 100 * i + len(t), t, unit=i + 1) for i, t in enumerate(texts)]


def check(claim, cands, vectors, claim_vector, hints=(), question="What happened?", rules=RULES):
    return attribute(
        claim,
        np.asarray(claim_vector, float),
        cands,
        np.asarray(vectors, float),
        question=question,
        headline=lambda doc_id: "Headline",
        common={"rare", "the"}.__contains__,
        hints=hints,
        rules=rules,
    )


def test_the_best_matching_sentence_is_the_quote_and_a_hint_only_breaks_ties():
    cands = candidates("The licences are valid for six months.", "Ford halted Explorer production.")
    found = check("The licences are valid for six months.", cands, [[1, 0], [0, 1]], [1, 0], hints=[2])
    assert found.kept and found.quotes == [cands[0]]
    tie = check("Licences last six months.", cands, [[0.6, 0.8], [0.6, 0.8]], [0.6, 0.8], hints=[2])
    assert tie.quotes[0] == cands[0]  # lexical overlap outweighs the hint
    even = candidates("Talks went on.", "Talks went on.")
    assert check("Talks went on.", even, [[1, 0], [1, 0]], [1, 0], hints=[2]).quotes[0] == even[1]


def test_a_second_quote_is_added_for_a_name_the_first_lacks():
    cands = candidates(
        "China will approve export applications.",
        "Commerce Secretary Howard Lutnick spoke on Thursday.",
        "Ford halted production.",
    )
    claim = "Howard Lutnick said China will approve export applications."
    found = check(claim, cands, [[1, 0], [0.5, 0.5], [0, 1]], [1, 0])
    assert found.kept and found.quotes == cands[:2]


def test_a_further_quote_comes_from_near_the_first_in_the_same_article():
    """x11 of the extra set among 300 other articles: "The EU said the accord builds on …"
    took its words from one sentence and "EU" from one 23 sentences later."""
    far = [
        "The accord builds on previous discussions.",
        *(f"Filler sentence number {n} about ports." for n in range(5)),
        "Both the EU and Japan have launched their own initiatives.",
    ]
    cands = candidates(*far)
    vectors = [[1, 0], *([[0, 1]] * 5), [0.6, 0.8]]
    found = check("The EU said the accord builds on previous discussions.", cands, vectors, [1, 0])
    assert not found.kept and found.quotes == [cands[0]] and found.problems[0] == "EU not in its sources"
    near = check(
        "The EU said the accord builds on previous discussions.",
        cands[:1] + cands[6:],
        [[1, 0], [0.6, 0.8]],
        [1, 0],
    )
    assert near.quotes == [cands[0], cands[6]]


METALS = (
    "Like rare earths, these metals, which the US buys, are mostly produced in China and play an "
    "essential role in civilian and military applications."
)
GLUED = "China's export ban on critical minerals such as gallium and germanium to the U.S. " + METALS


def test_each_clause_of_a_claim_must_be_in_its_quotes():
    """x01 of the extra set, in evidence mode: two source sentences glued into one claim
    ("…to the U.S. Like rare earths…") cite only the second, which names no metal. The
    claim as a whole passes (its quote holds most of its terms); its first clause does not."""
    question = "Which metals did China ban from export to the US?"
    part = "China's export ban on critical minerals such as gallium and germanium to the U.S."
    assert weakest_part(GLUED, METALS, question, 3) == (part, 0.0)
    assert weakest_part("In exchange, the US agreed.", "In return, the US agreed.", "What?", 3) == ("", 1.0)
    cands = candidates(METALS, "Ford halted production.")
    found = check(GLUED, cands, [[1, 0], [0, 1]], [1, 0], question=question)
    assert found.coverage >= RULES.min_coverage
    assert found.problems == [f"its sources hold only 0% of “{part}”"]


def test_a_second_quote_is_added_for_a_clause_the_first_lacks():
    cands = candidates(
        METALS, "China's export ban on critical minerals such as gallium and germanium was lifted."
    )
    found = check(
        GLUED, cands, [[1, 0], [0.6, 0.8]], [1, 0], question="Which metals did China ban from export?"
    )
    assert found.kept and found.quotes == cands


def test_a_number_is_not_grounded_by_an_unrelated_sentence_that_happens_to_hold_it():
    """x12 of the extra set: "prices fell by 10%" must not borrow the 10 of "by August 10"."""
    cands = candidates(
        "Magnet prices were watched closely after the deal.", "Talks are due to end by August 10."
    )
    found = check("Magnet prices fell by 10% after the deal.", cands, [[1, 0], [0.1, 0.99]], [1, 0])
    assert not found.kept and found.quotes == [cands[0]] and found.problems[0] == "10 not in its sources"


def test_a_name_the_question_supplies_is_not_grounding_but_its_dates_and_numbers_are():
    """x11 of the extra set: "What did the EU say?" must not let "The EU said …" pass on a quote
    about someone else; "in June 2025" restated from a question is fine."""
    cands = candidates("The deal is a necessary step for supply chains, analysts said.")
    eu = check(
        "The EU said the deal is a necessary step.", cands, [[1, 0]], [1, 0], question="What did the EU say?"
    )
    assert not eu.kept and eu.problems[0] == "EU not in its sources"
    june = check(
        "In June 2025 the deal was a necessary step.",
        cands,
        [[1, 0]],
        [1, 0],
        question="What was it in June 2025?",
    )
    assert june.kept


def test_the_date_line_counts_toward_coverage_as_it_grounds_numbers():
    """d04 of the dev set: "on June 5, 2025" takes the year from the article's date line."""
    cands = candidates("The call, held on 5 June, laid the groundwork.")
    found = attribute(
        "The two presidents spoke by phone on June 5, 2025.",
        np.array([1.0, 0.0]),
        cands,
        np.array([[1.0, 0.0]]),
        question="When did the two presidents speak by phone?",
        headline=lambda doc_id: "Deal agreed\nJune 12, 2025",
        common=set().__contains__,
    )
    assert found.kept and found.coverage == 3 / 4  # "spoke" is the one term not held


def test_claims_with_ungrounded_terms_low_similarity_or_low_coverage_are_dropped():
    cands = candidates(TRUMP)
    invented = check("China shipped 10,000 tonnes of magnets in July.", cands, [[1, 0]], [1, 0])
    assert not invented.kept and invented.problems[0] == "10000, July not in its sources"
    unrelated = check("Magnets were supplied.", cands, [[1, 0]], [0, 1])
    assert not unrelated.kept and "no source sentence states it (best similarity 0.00)" in unrelated.problems
    garbled = check("They reacted positively by agreeing loudly.", cands, [[1, 0]], [1, 0])
    assert not garbled.kept and garbled.problems == [
        "its sources hold only 0% of what it adds to the question"
    ]


def test_no_candidates_means_nothing_backs_the_claim():
    found = check("Anything.", [], np.zeros((0, 2)), [1, 0])
    assert not found.kept and found.problems == ["no source sentence to compare it with"]


def test_roles_are_the_names_after_to_from_into_against_by_and_before_a_possessive():
    assert roles("China's ban on exports to the U.S., from Beijing by Reuters") == {
        ("'s", "China"),
        ("to", "US"),
        ("from", "China"),
        ("by", "Reuters"),
    }


@pytest.mark.parametrize(
    "claim, quote, swapped",
    [
        (
            "The US banned gallium exports to China.",
            "China's export ban on gallium to the U.S.",
            ["“to China” where its quotes say “to US”"],
        ),
        (
            "The US's ban on gallium exports.",
            "China's export ban on gallium to the U.S.",
            ["“US's” where its quotes say “China's”"],
        ),
        ("China will supply magnets to the US.", "China will supply magnets to American automakers.", []),
        ("Exports to China rose.", "Exports to China and to Washington rose.", []),
        ("Exports to China rose.", "Chinese exports rose.", []),  # no role in the quote to compare
    ],
)
def test_a_name_must_keep_the_role_its_quotes_give_it(claim, quote, swapped):
    """Who did what to whom: the claim check passes many such swaps while every name is quoted."""
    assert swapped_roles(claim, quote) == swapped


def test_actors_are_the_nearest_names_before_a_word_that_no_preposition_governs():
    named = {"China", "US", "Trump", "Xi"}
    assert actors("China banned exports to the U.S.", named) == {
        "ban": ("banned", {"China"}),
        "export": ("exports", {"China"}),
    }
    # joined by "and", both speak; a sentence starts with no one acting, and "with Beijing" is governed
    assert actors("Trump and Xi spoke. Talks with Beijing ended.", named) == {
        "spoke": ("spoke", {"Trump", "Xi"})
    }


@pytest.mark.parametrize(
    "claim, quote, swapped",
    [
        (
            "China will allow more Chinese students to enrol in American universities.",
            "China would increase the supply of magnets, while the US would allow more Chinese "
            "students to enrol in American universities.",
            ["“allow” done by China where its quotes have US"],
        ),
        (
            "The US will supply magnets and rare earth minerals to China.",
            "China would increase the supply of magnets and rare earth minerals to the US.",
            ["“supply” done by US where its quotes have China"],
        ),
        ("Xi and Trump spoke by phone.", "Trump and Xi spoke by phone on June 5.", []),
        (
            "China agreed to lift restrictions on rare earth exports to the United States.",
            "From the U.S. perspective, the lifting of China's rare earth restrictions was part of the deal.",
            [],  # "From the U.S." is governed, so no one lifts in the quote
        ),
        ("Beijing banned exports to Washington.", "China banned exports to the US.", []),  # aliases
        ("US-China talks eased trade tensions.", "The US–China talks eased trade tensions.", []),
        # a governed name's phrase is done by no one: "rare" is not done by American buyers
        (
            "American buyers pay more for Chinese rare earths.",
            "China sells rare earths to American buyers.",
            [],
        ),
        ("The ministry said China agreed.", "China agreed, MOFCOM said.", []),  # one name in both
    ],
)
def test_a_claim_must_keep_who_does_what_in_its_quotes(claim, quote, swapped):
    """A small model swaps the actors of a sentence it copies; the claim check passed 8 of 13
    such swaps made from stored answers."""
    assert swapped_actors(claim, quote) == swapped


@pytest.mark.parametrize(
    "claim, quote, overstates",
    [
        ("Shipments resumed.", "Shipments could resume, analysts said.", True),
        ("The US will lift restrictions.", "In return, the US is expected to lift restrictions.", True),
        ("China will approve the licences.", "If China approves the licences, shipments could resume.", True),
        ("The licences are valid for six months.", "The licences may only be valid for six months.", True),
        ("The US plans to diversify its supply.", "The US plans to diversify its supply.", False),
        ("Shipments may resume.", "Shipments could resume, analysts said.", False),  # hedged in other words
        ("China approved licences.", "China approved licences, and shipments may resume soon.", False),
        ("Talks were held in May.", "Talks were held in May in Geneva.", False),  # a month
    ],
)
def test_a_claim_must_not_state_as_fact_what_its_quote_hedges(claim, quote, overstates):
    """The hedge that counts is in the clause of the quote the claim restates."""
    assert overstated(claim, [quote]) is overstates


@pytest.mark.parametrize(
    "claim, problem",
    [
        ("The US gave up China's rare earth restrictions in the Geneva deal.", "Geneva"),
        ("Senator Smith criticised the deal.", "Senator, Smith"),
    ],
)
def test_names_missing_from_the_quote_are_named_in_the_problem(claim, problem):
    found = check(claim, candidates(TRUMP), [[1, 0]], [1, 0])
    assert problem in found.problems[0]


@pytest.mark.parametrize(
    "question, answer, gives",
    [
        ("When did they speak by phone?", "They spoke on 5 June.", True),
        ("When did they speak by phone?", "A phone call later paved the way for the deal.", False),
        ("When will shipments arrive?", "Shipments should arrive within weeks.", True),
        ("When will shipments arrive?", "Shipments will arrive after the talks.", False),
        ("When will shipments arrive?", "Shipments will arrive next month.", True),
        ("How many magnets were shipped?", "Twelve magnets were shipped.", True),
        ("How many magnets were shipped?", "Magnets were shipped.", False),
        ("When will shipments arrive?", "The world's two largest economies agreed.", False),
        ("When will shipments arrive?", "The deal may prompt a decision in the market.", False),
        ("When did talks end?", "Talks ended in March 2025.", True),
        ("What was the dollar value of the deal?", "They agreed during a call on June 5.", False),
        ("How many tonnes were shipped?", "China shipped 2,000 tonnes in June 2025.", True),
        ("How many export licences were approved?", "The deal came after two days of talks.", False),
        ("How many export licences were approved?", "The ministry approved 12 export licences.", True),
        ("With how many more partners does it want deals?", "It wants deals with ten other partners.", True),
        ("What was the dollar value of the deal?", "The world's two largest economies agreed.", False),
        ("What was the dollar value of the deal?", "The deal is worth $5 billion.", True),
        ("What fine do exporters face?", "Exporters face fines of up to 500,000 yuan.", True),
        ("How much did Tesla pay for magnets?", "Tesla paid for 3 shipments of magnets.", False),
        ("What share of processing does China control?", "China controls roughly 90% of it.", True),
        ("What share of processing does China control?", "China controls two thirds of it.", True),
        ("What share of processing does China control?", "China controls 12 plants.", False),
        ("Which mine in Myanmar does the militia protect?", "A militia protects mines in Myanmar.", False),
        ("Which carmaker halted production?", "Ford halted production of the Explorer.", True),
        ("Which US senator criticised the deal?", "The US and China have confirmed the deal.", False),
        ("Which US senator criticised the deal?", "Senator Jane Roe criticised the deal.", True),
        ("Which US senator criticised the deal?", "The Trump administration criticised it.", False),
        ("Which official spoke of the deal?", "The White House spoke of the deal.", False),
        ("Which official spoke of the deal?", "Lutnick's remarks were about the deal.", False),
        ("Which official spoke of the deal?", "Commerce Secretary Howard Lutnick spoke.", True),
        ("Which official spoke of the deal?", "Foreign Ministry Spokesperson Lin Jian spoke.", True),
        ("Which US senator criticised the deal?", "Ford Motor Company halted production.", False),
        ("Which US senator criticised the deal?", "Ford halted its Explorer SUV.", False),
        ("Which country did the US turn to?", "The US turned to China.", True),
    ],
)
def test_an_answer_must_give_the_kind_of_thing_asked_for(question, answer, gives):
    """A word that only orders events ("later", "earlier"), a count, or "may" does not say
    when; the day of a date is not an amount; a count is no sum of money or percentage; a
    place the question gives is not the name it asks for, and a country, an institution or a
    lone surname is not a person."""
    assert gives_kind(answer, asked_kind(question), question) is gives


@pytest.mark.parametrize(
    "question, texts, missing",
    [
        ("Which Japanese carmaker halted production?", ["Ford halted production."], ["Japanese"]),
        ("Which Japanese carmaker halted production?", ["Japan's Toyota halted it."], []),
        ("What did Beijing and the U.S. agree?", ["China and Washington agreed."], []),
        ("What did the EU and Lutnick say?", ["Lutnick spoke.", "The E.U. spoke."], []),
        ("What did the EU and Lutnick say?", ["Lutnick spoke."], ["EU"]),
        ("What was agreed in London?", [], ["London"]),
        ("WHAT DID THE EU GIVE UP?", ["Ford halted production."], []),
        ("What Did The EU Give Up?", ["Ford halted production."], []),
    ],
)
def test_names_of_the_question_the_texts_never_mention(question, texts, missing):
    """Aliases fold, and a demonym is found in its country's name (the first five letters)."""
    assert unmentioned(question, texts) == missing


def test_a_question_about_things_without_proper_names_asks_for_no_name():
    assert asked_kind("Which metals did China ban from export?") is None


@pytest.mark.parametrize(
    "question, terms",
    [
        ("What did Howard Lutnick say about the deal?", {"howard", "lutnick"}),
        ("What did China's foreign ministry say?", {"foreign", "ministri"}),
        ("What did Reuters report about the licences?", {"reuter"}),
        ("What did the US say?", set()),  # every article names it
        ("How did China respond?", set()),
    ],
)
def test_the_speaker_a_question_asks_about(question, terms):
    assert speaker(question) == terms


@pytest.mark.parametrize(
    "question, parts",
    [
        ("What did China agree to?", ["What did China agree to?"]),
        ("What did China and the US agree?", ["What did China and the US agree?"]),
        (
            "How long are licences valid, and what price will buyers pay?",
            ["How long are licences valid?", "What price will buyers pay?"],
        ),
        ("Who is Song Wendi and what did he call it?", ["Who is Song Wendi?", "What did he call it?"]),
        (
            "When did they speak? By what date is a deal due?",
            ["When did they speak?", "By what date is a deal due?"],
        ),
    ],
)
def test_a_question_that_joins_questions_is_read_as_its_parts(question, parts):
    assert question_parts(question) == parts


def test_a_claim_is_about_the_parts_it_shares_words_with_or_about_all():
    parts = ["When did Trump and Xi speak?", "By what date is a deal due?"]
    assert about_parts("The deal is due by August 10.", parts) == [1]
    assert about_parts("Trump and Xi spoke on June 5.", parts) == [0]
    assert about_parts("Talks ended on Friday.", parts) == [0, 1]  # no word of either
    assert about_parts("Anything at all.", ["What was agreed?"]) == [0]


def test_the_parts_of_a_question_the_claims_leave_open():
    """Each part asks for its own kind (a name answers the first part of this question, no sum
    of money the second), and names its own things (the first part's Japan is mentioned)."""
    question = "Which carmaker halted production, and how much did it pay for magnets?"
    money = "the question asks for a sum of money and no backed sentence gives one"
    assert open_parts(question, ["Ford halted production."], [], lambda w: False) == [
        ("How much did it pay for magnets?", money)
    ]
    both = ["Ford halted production and paid $5 for magnets."]
    assert open_parts(question, both, [], lambda w: False) == []
    left = open_parts(question, ["it halted production."], [], lambda w: False)
    assert [part for part, _ in left] == question_parts(question)
    question = "When did Trump and Xi speak, and by what date is a deal due?"
    due = ["Trump and Xi spoke.", "The deal is due by August 10."]
    left = open_parts(question, due, [], lambda w: False)
    assert [part for part, _ in left] == ["When did Trump and Xi speak?"]
    question = "Which Japanese carmaker halted output, and what did Toyota say?"
    assert open_parts(
        question, ["Mazda halted output."], ["Japan's Mazda halted output."], {"output"}.__contains__
    ) == [("What did Toyota say?", "the question names Toyota, which no cited article mentions")]


@pytest.mark.parametrize(
    "claim, pieces",
    [
        (
            "Trump and Xi spoke by phone on June 5, and a deal is to be negotiated by August 10.",
            ["Trump and Xi spoke by phone on June 5.", "A deal is to be negotiated by August 10."],
        ),
        (
            "China will approve export licences; the US will lift curbs on ethane.",
            ["China will approve export licences.", "The US will lift curbs on ethane."],
        ),
        (
            "JL Mag received export licences for the U.S. China banned gallium exports to the U.S.",
            ["JL Mag received export licences for the U.S.", "China banned gallium exports to the U.S."],
        ),
        (
            "China eased curbs on ethane, and more.",
            ["China eased curbs on ethane, and more."],
        ),  # "more" is no statement
        (
            "The US tightened curbs on chip software, aircraft, and other high-tech goods for China.",
            ["The US tightened curbs on chip software, aircraft, and other high-tech goods for China."],
        ),  # a list's last item is no statement
        (
            "China, the largest producer of rare earths, eased curbs, and the US lifted its tariffs.",
            ["China, the largest producer of rare earths, eased curbs, and the US lifted its tariffs."],
        ),  # taken for a list too: the whole sentence is checked
        (
            "China and the US agreed to ease curbs on ethane.",
            ["China and the US agreed to ease curbs on ethane."],
        ),
        (
            'He said "China will ease curbs, but the US will lift tariffs."',
            ['He said "China will ease curbs, but the US will lift tariffs."'],
        ),
    ],
)
def test_a_claim_is_cut_into_the_statements_it_joins(claim, pieces):
    """Only at "; " or a comma before and/but/while/whereas that ends no list, only when every
    piece has three terms, and never inside quoted words."""
    assert conjuncts(claim, 3) == pieces


@pytest.mark.parametrize(
    "question, yes_or_no",
    [
        ("Did China approve the licences?", True),
        ("  Has the US lifted its curbs?", True),
        ("Were the talks held in London?", True),
        ("What did China approve?", False),
        ("Which carmaker halted production?", False),
        ("Didier Ross said what?", False),
    ],
)
def test_polar_questions_ask_yes_or_no(question, yes_or_no):
    assert polar(question) is yes_or_no


@pytest.mark.parametrize(
    "question, claims, cited, loose",
    [
        ("Did they speak on June 9?", ["They spoke by phone."], [], ["June 9"]),
        ("Did they speak on June 9?", ["They spoke on 5 June."], [], []),  # corrected
        ("Did they speak on June 9?", ["They spoke on June 9."], [], []),
        ("Are licences valid for two years?", ["Licences are valid for six months."], [], []),
        ("Are licences valid for two years?", ["Licences were issued on June 4."], [], ["2 year"]),
        ("Did Japan join the deal?", ["The US and China made a deal."], ["The US and China met."], ["Japan"]),
        ("Did Ford halt production?", ["Production halted."], ["Ford halted production."], []),
        ("Did Beijing agree?", ["China agreed."], [], []),  # aliases
        ("What happened on June 9?", ["Nothing."], [], []),  # not yes or no
    ],
)
def test_what_a_yes_or_no_question_asks_about_must_be_settled(question, claims, cited, loose):
    """Each date and figure stated or corrected by a claim, each name in a claim or a cited article."""
    assert unsettled(question, claims, cited) == loose


@pytest.mark.parametrize(
    "claim, quote, words",
    [
        ("China approved the licences.", "China will approve licences.", ["approved"]),
        (
            "The US took down its countermeasures.",
            "Once they deliver, we'll take down our countermeasures.",
            ["took"],
        ),
        (
            "The proposal was submitted to both leaders.",
            "The proposal will now be submitted to both leaders.",
            ["submitted"],
        ),
        ("China approved some licences.", "China approved some and will approve more.", []),
        ("Ford halted production.", "Ford was forced to halt production.", []),
        ("China agreed to approve licences.", "China will approve licences.", []),
        ("China approved the licences.", "China has agreed to approve licences.", ["approved"]),
        ("The US eased curbs.", "The US pledged to ease curbs.", ["eased"]),
        ("It signed a deal.", "It will sell. It signed a deal.", []),
        ("A deal was negotiated by August 10.", "A deal is to be negotiated by August 10.", ["negotiated"]),
        ("China delivered rare earths.", "They're going to deliver rare earths to us.", ["delivered"]),
        ("The licences expired.", "The licences are set to expire in July.", ["expired"]),
        ("China increased scrutiny.", "Delays were due to increased scrutiny.", []),  # no schedule
    ],
)
def test_promised_finds_past_verbs_the_quotes_only_promise(claim, quote, words):
    assert promised(claim, [quote]) == words
