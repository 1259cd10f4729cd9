"""Who does what to whom: roles and doers a claim must keep from its quotes."""

from __future__ import annotations

import pytest

from rag.roles import actors, roles, swapped_actors, swapped_roles


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
        # a name only the quotes give: China stands beside the agreeing, the US does it
        (
            "China will approve applications, agreeing to ease restrictions on Chinese sales.",
            "China will approve applications. In return, the U.S. has agreed to ease some "
            "restrictions on Chinese sales.",
            ["“agreeing” done by China where its quotes have US"],
        ),
        # ... but not where the claim's doer is absent from the sentence: another name for it
        ("China will approve licences.", "The Ministry of Commerce will approve licences. China agreed.", []),
        ("China will approve licences.", "China's Ministry of Commerce will approve licences.", []),
        # two names in both: only they are compared, not Beijing's "phone call between" them
        (
            "Trump and Xi spoke by phone on June 5.",
            "Beijing's statement, citing a recent phone call between President Xi Jinping and "
            "US President Donald Trump, called for mutual respect.",
            [],
        ),
        # the claim's own doer of "conclude" is the US, which the quotes never name
        (
            "Lutnick said the US would conclude similar deals with ten partners.",
            "Lutnick said that the White House intends to conclude similar deals with ten partners.",
            [],
        ),
    ],
)
def test_a_claim_must_keep_who_does_what_in_its_quotes(claim, quote, swapped):
    """A small model swaps the actors of a sentence it copies; the claim check passed 8 of 13
    such swaps made from stored answers."""
    assert swapped_actors(claim, quote) == swapped
