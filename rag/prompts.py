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


@cache
def template(name: str) -> Template:
    return Template((PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8").strip())


def system_prompt() -> str:
    return template("system").template


def evidence_block(evidence: list[Evidence]) -> str:
    """``[1] Passage text.`` lines, one per evidence passage, whitespace folded."""
    return "\n".join(template("evidence").substitute(n=e.n, text=" ".join(e.text.split())) for e in evidence)


def _passages_then(name: str, question: str, evidence: list[Evidence], **extra: object) -> list[dict]:
    """Messages: the fixed system prompt, then passages, question and template ``name``'s request.

    Everything before the final instruction is the same for the choose and answer
    steps, and the system prompt for every question, so their KV cache is reused.
    """
    user = template(name).substitute(evidence=evidence_block(evidence), question=question.strip(), **extra)
    return [{"role": "system", "content": system_prompt()}, {"role": "user", "content": user}]


def choose_messages(question: str, evidence: list[Evidence]) -> list[dict[str, str]]:
    """Ask which passage answers the question (0: none is about it)."""
    return _passages_then("choose", question, evidence)


def answer_messages(question: str, evidence: list[Evidence], best: int) -> list[dict[str, str]]:
    """Ask for an answer built on passage ``best``, citing every passage it uses."""
    return _passages_then("answer", question, evidence, best=best)


def rewrite_messages(question: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
    lines = [f"{m['role'].capitalize()}: {' '.join(m['content'].split())}" for m in history]
    user = template("rewrite").substitute(history="\n".join(lines), question=question.strip())
    return [{"role": "user", "content": user}]
