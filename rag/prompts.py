"""Prompt rendering: templates are files in ``prompts/``; these functions are pure.

Templates use ``$name`` placeholders (``string.Template``), so braces in article
text need no escaping.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

from .schema import Evidence

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
ANSWER_SENTENCES = 4  # most sentences an answer has: the prompt asks for them, the checks stop there
_COUNT_WORDS = ("one", "two", "three", "four", "five", "six")


@cache
def template(name: str) -> Template:
    return Template((PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8").strip())


def system_prompt() -> str:
    return template("system").template


def evidence_block(evidence: list[Evidence]) -> str:
    """``[1] Passage text.`` lines, one per evidence passage, whitespace folded."""
    return "\n".join(template("evidence").substitute(n=e.n, text=" ".join(e.text.split())) for e in evidence)


def article_block(n: int, byline: str, text: str) -> str:
    """One article of the corpus prompt: a numbered header, then its lines without blank ones."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return template("article").substitute(n=n, byline=byline, text="\n".join(line for line in lines if line))


def corpus_system(articles: list[str]) -> dict[str, str]:
    """The system message of whole-corpus mode: the instructions, then every article."""
    return {"role": "system", "content": template("corpus").substitute(articles="\n\n".join(articles))}


def _question(question: str, material: str, unit: str) -> dict[str, str]:
    user = template("answer").substitute(
        material=material,
        question=question.strip(),
        unit=unit,
        units=unit + "s",
        most=_COUNT_WORDS[ANSWER_SENTENCES - 1],
    )
    return {"role": "user", "content": user}


def evidence_messages(
    question: str, evidence: list[Evidence], history: list[dict] = ()
) -> list[dict[str, str]]:
    """The fixed system prompt, earlier turns, then the numbered passages, question and instructions."""
    material = f"Passages:\n{evidence_block(evidence)}\n\n"
    system = {"role": "system", "content": system_prompt()}
    return [system, *history, _question(question, material, "passage")]


def corpus_messages(system: dict[str, str], question: str, history: list[dict] = ()) -> list[dict[str, str]]:
    """The corpus system message (a cached prefix), earlier turns, then the question and instructions."""
    return [system, *history, _question(question, "", "article")]


def verify_messages(claim: str, quotes: list[str], dated: str = "") -> list[dict[str, str]]:
    """Ask whether the quotes state the claim (a yes/no judged from the logits). With the
    articles' date line (``dated``), a claim may take the year from it, as grounding allows."""
    quote = " ".join(" ".join(q.split()) for q in quotes)
    published = f" published {dated}" if dated else ""
    user = template("verify").substitute(quote=quote, claim=claim.strip(), published=published)
    return [
        {"role": "system", "content": template("verify_system").template},
        {"role": "user", "content": user},
    ]


def rewrite_messages(question: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
    lines = [f"{m['role'].capitalize()}: {' '.join(m['content'].split())}" for m in history]
    user = template("rewrite").substitute(history="\n".join(lines), question=question.strip())
    return [{"role": "user", "content": user}]
