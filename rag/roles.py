"""Who does what to whom: a claim must keep the roles and the doers its quotes give its names.

"China banned exports to the US" quoted as "The US banned exports to China" keeps every
name and every word; a small model writes such swaps, and its claim check passes most.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .chunking import split_sentences
from .terms import DATE_NAME, POSSESSIVE, canonical, content_terms, names

_ROLE_MARKERS = ("to", "from", "into", "against", "by")  # the prepositions whose names ``roles`` compares
_ROLE = re.compile(rf"\b({'|'.join(_ROLE_MARKERS)})\s+(?:the\s+)?([A-Z][\w-]*)|([A-Z][\w-]*)['’]s\b")


def roles(text: str) -> set[tuple[str, str]]:
    """The names ``text`` puts in a role, aliases folded: ``"China's ban on exports to the
    U.S."`` -> ``{("'s", "China"), ("to", "US")}``."""
    return {
        (m.group(1).lower(), m.group(2)) if m.group(1) else ("'s", m.group(3))
        for m in _ROLE.finditer(canonical(text))
    }


def swapped_roles(claim: str, quotes: str) -> list[str]:
    """The roles of ``claim`` that ``quotes`` give to another name and never to the claim's:
    ``("exports to China", "China's exports to the US")`` -> ``["“to China” where its quotes
    say “to US”"]``. Who did what to whom is where a small model's claims and its claim check
    go wrong while every name is quoted."""
    held = roles(quotes)
    swapped = []
    for marker, name in sorted(roles(claim) - held):
        if others := sorted(n for m, n in held if m == marker):
            theirs = " and ".join(f"“{_role(marker, n)}”" for n in others)
            swapped.append(f"“{_role(marker, name)}” where its quotes say {theirs}")
    return swapped


def _role(marker: str, name: str) -> str:
    return f"{name}'s" if marker == "'s" else f"{marker} {name}"


_GOVERNS = frozenset(_ROLE_MARKERS) | frozenset(
    "about after among as at before between for in including like of on over than toward towards "
    "under via with".split()
)  # a name after one of these is acted on, not acting
_JOINS = frozenset({"and", "or", "&", "nor"})
_ARTICLES = frozenset({"the", "a", "an"})
_TOKEN = re.compile(r"[\w'’]+(?:[-–][\w'’]+)*|[,;:()—–]")  # "US–China" is one token


def actors(text: str, named: set[str]) -> dict[str, tuple[str, set[str]]]:
    """Who does each content word of ``text``: the run of ``named`` names nearest before it
    in its sentence that no preposition governs; runs joined by "and" or a dash ("US–China")
    act together. The words of a governed name's phrase ("for Chinese rare earths") are done
    by no one.

    ``("China banned exports to the US", {"China", "US"})`` ->
    ``{"ban": ("banned", {"China"}), "export": ("exports", {"China"})}``
    """
    found: dict[str, tuple[str, set[str]]] = {}
    for start, end in split_sentences(text):  # "… to the U.S. Like rare earths, …" is two
        actor: set[str] = set()
        run: set[str] | None = None  # the names being read; None between runs
        governed = joined = aside = False
        before = ""
        for word in _TOKEN.findall(canonical(text[start:end])):
            low, name = word.lower(), POSSESSIVE.sub("", word)
            those = set(re.split("[-–]", name))
            if those <= named:
                if run is None:
                    governed = governed if joined else before in _GOVERNS  # "to China and the US"
                    run = actor if joined and not governed else set()
                    joined = False
                run |= those
                if not governed:
                    actor = run
                aside = governed
            elif low in _JOINS and run is not None:
                run, joined = None, True
            elif low in _ARTICLES:
                continue  # "to the US": the preposition governs across the article
            else:
                run, joined = None, False
                aside = aside and not (low in _GOVERNS or low in _JOINS or not low[0].isalnum())
                for term in content_terms(word) if actor and not aside else ():
                    found.setdefault(term, (word, set()))[1].update(actor)
            before = low
    return found


def swapped_actors(claim: str, quotes: str, common: Callable[[str], bool] = lambda w: False) -> list[str]:
    """The first word of ``claim`` done by other names than in ``quotes``:
    ``("The US banned exports to China", "China banned exports to the US")`` ->
    ``["“banned” done by US where its quotes have China"]``. A small model swaps who did what
    while every name stays quoted, and its claim check passes most such swaps.

    Among two or more names both give, any disagreement counts. With one, a name only the
    quotes give counts where the claim's doer stands beside it in the same sentence without
    doing the word:
    ``("China agreed to ease curbs on its sales", "The US agreed to ease curbs on Chinese
    sales")`` moves the agreeing to China though the claim never names the US.
    """
    claimed, quoted = ({n for n in names(t, common) if not DATE_NAME.fullmatch(n)} for t in (claim, quotes))
    shared = claimed & quoted
    if len(shared) >= 2:
        theirs = {term: who for term, (_, who) in actors(quotes, shared).items()}
        return _first_swap(actors(claim, shared), theirs)
    return _swapped_beside(claim, quotes, claimed, quoted, common) if shared else []


def _swapped_beside(
    claim: str, quotes: str, claimed: set[str], quoted: set[str], common: Callable[[str], bool]
) -> list[str]:
    """``swapped_actors`` for one name both give: each quoted sentence's doers among all
    its names, compared where the shared name stands in that sentence."""
    doers: dict[str, set[str]] = {}
    beside: dict[str, set[str]] = {}  # the names in a sentence where someone does the word
    for start, end in split_sentences(quotes):
        sentence = quotes[start:end]
        present = names(sentence, common)
        for term, (_, who) in actors(sentence, quoted).items():
            doers.setdefault(term, set()).update(who)
            beside.setdefault(term, set()).update(present)
    shared = claimed & quoted
    comparable = {  # done by the shared name, in a sentence where someone does it
        term: (word, who)
        for term, (word, who) in actors(claim, claimed).items()
        if who <= shared & beside.get(term, set())
    }
    return _first_swap(comparable, doers)


def _first_swap(claimed: dict[str, tuple[str, set[str]]], theirs: dict[str, set[str]]) -> list[str]:
    """The first claimed word whose doers share none with ``theirs``, described; [] if none."""
    for term, (word, who) in claimed.items():
        if theirs.get(term) and not who & theirs[term]:
            done, had = (" and ".join(sorted(n)) for n in (who, theirs[term]))
            return [f"“{word}” done by {done} where its quotes have {had}"]
    return []
