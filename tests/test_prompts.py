"""Golden tests: the rendered prompts are pinned, so a prompt change shows up as a readable diff.

To accept an intended change, run ``UPDATE_GOLDEN=1 pytest tests/test_prompts.py`` and review
the diff of ``tests/golden/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag import prompts
from rag.schema import Evidence

GOLDEN = Path(__file__).parent / "golden"
EVIDENCE = [
    Evidence(1, "a", "China will approve\n  export licences.", 0, 38),
    Evidence(2, "b", "Talks were held in London {not a placeholder} and cost $5.", 0, 58),
]
HISTORY = [
    {"role": "user", "content": "What did the US give up?"},
    {"role": "assistant", "content": "It eased  export controls [1]."},
]


def render(messages: list[dict[str, str]]) -> str:
    return "".join(f"<<{m['role']}>>\n{m['content']}\n" for m in messages)


@pytest.mark.parametrize(
    "name, messages",
    [
        ("choose", prompts.choose_messages("What did China commit to? ", EVIDENCE)),
        ("answer", prompts.answer_messages("What did China commit to? ", EVIDENCE, 2)),
        ("rewrite", prompts.rewrite_messages("And in return?", HISTORY)),
    ],
)
def test_rendered_prompt_matches_golden(name, messages):
    path = GOLDEN / f"{name}.txt"
    text = render(messages)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_system_prompt_comes_first_and_is_the_same_for_every_question():
    """The KV cache of the system prompt can only be reused if it is an unchanged prefix."""
    a = prompts.answer_messages("First question?", EVIDENCE[:1], 1)
    b = prompts.choose_messages("Another question?", EVIDENCE[1:])
    assert a[0] == b[0] == {"role": "system", "content": prompts.system_prompt()}
