"""Prompt-lookup decoding: drafts from the prompt, kept up to the model's first other choice."""

from __future__ import annotations

import pytest

from rag.decode import Drafter, TextPieces, accepted


def test_the_last_ngram_continues_as_its_latest_earlier_occurrence():
    drafter = Drafter([1, 2, 3, 4, 5, 9, 2, 3, 7, 8], longest=2, shortest=1, size=3)
    drafter.extend([2, 3])
    assert drafter.propose() == [7, 8, 2]  # "2 3" last occurred before 7 8, not before 4 5


def test_a_shorter_ngram_is_tried_when_the_longer_one_never_occurred():
    drafter = Drafter([5, 6, 7, 1, 6, 8], longest=3, shortest=1, size=2)
    drafter.extend([9, 6])
    assert drafter.propose() == [8, 9]  # "9 6" is new; "6" last occurred before 8


def test_no_draft_from_a_match_shorter_than_shortest():
    drafter = Drafter([5, 6, 7, 1, 6, 7, 9], longest=4, shortest=3, size=2)
    drafter.extend([4, 6, 7])
    assert drafter.propose() == []  # only "6 7" occurred before
    drafter.extend([9])
    assert drafter.propose() == [4, 6]  # "6 7 9" did, before 4 6


def test_no_draft_for_a_token_never_seen_or_with_size_zero():
    assert Drafter([1, 2, 3], shortest=1, size=4).propose() == []
    drafter = Drafter([1, 2, 1], shortest=1, size=0)
    assert drafter.propose() == []


def test_the_text_being_written_is_a_source_of_drafts_too():
    drafter = Drafter([0], longest=2, shortest=1, size=4)
    for token in [1, 2, 3, 1, 2]:
        drafter.propose()
        drafter.extend([token])
    assert drafter.propose() == [3, 1, 2]


@pytest.mark.parametrize(
    ("draft", "chosen", "kept"),
    [
        ([5, 6, 7], [5, 6, 7, 8], [5, 6, 7, 8]),  # all drafted tokens, then the next choice
        ([5, 6, 7], [5, 9, 1, 1], [5, 9]),  # up to the first miss, then the model's token
        ([5], [4, 2], [4]),
        ([], [3], [3]),  # no draft: one plain greedy step
    ],
)
def test_accepted_keeps_the_draft_up_to_the_first_miss(draft, chosen, kept):
    assert accepted(draft, chosen) == kept


class Bytes:
    """Detokenizes by a table of token -> bytes, as a byte-level BPE model does."""

    def __init__(self, table: dict[int, bytes]):
        self.table = table

    def detokenize(self, tokens, prev_tokens=None):
        return b"".join(self.table[t] for t in tokens)


def pieces(table: dict[int, bytes], tokens: list[int], stop=("<|im_end|>",)) -> tuple[list[str], bool]:
    text = TextPieces(Bytes(table), [], list(stop))
    out = [text.add(t) for t in tokens if not text.stopped]
    return [*out, text.rest()], text.stopped


def test_a_character_split_over_two_tokens_waits_for_its_last_byte():
    quote = "”".encode()
    out, _ = pieces({1: b"said " + quote[:1], 2: quote[1:] + b" ok"}, [1, 2])
    assert out == ["said ", "” ok", ""]


def test_text_stops_before_a_stop_string_split_over_tokens():
    out, stopped = pieces({1: b"Done. <|im", 2: b"_end|> more", 3: b"x"}, [1, 2, 3])
    assert stopped and "".join(out) == "Done. "
    assert out[0] == "Done. "  # "<|im" was held back: it might begin the stop string


def test_held_text_that_does_not_become_a_stop_string_is_given_at_the_end():
    out, stopped = pieces({1: b"a <", 2: b"b"}, [1, 2], stop=("<|im_end|>",))
    assert not stopped and "".join(out) == "a <b"


@pytest.mark.real
def test_the_real_model_copies_a_sentence_in_fewer_passes_than_tokens(real_settings):
    """With drafts, a quoted sentence takes fewer forward passes than it has tokens; without,
    the loop is plain greedy decoding, token for token what llama-cpp-python writes."""
    from rag.llm import LlamaGenerator
    from rag.models import llm_path

    sentence = "China controls roughly 90 percent of global rare earth processing capacity."
    messages = [{"role": "user", "content": f"Repeat this sentence exactly: {sentence}"}]
    path = llm_path(real_settings)
    out = {}
    for draft in (4, 0):
        gen = LlamaGenerator(path, "m", n_threads=real_settings.threads, n_ctx=2048, draft_tokens=draft)
        stats: dict = {}
        out[draft] = (gen.generate(messages, 40, stats), stats)
    text, stats = out[4]
    assert sentence in text
    assert stats["passes"] < stats["completion_tokens"]
    text, stats = out[0]
    n = stats["completion_tokens"]
    assert stats["passes"] in (n - 1, n)  # one per token (the first comes with the prompt's)
    loaded = gen._loaded()
    tokens, stop = gen.tokens(messages)
    plain = loaded.llm.create_completion(tokens, max_tokens=40, temperature=0.0, top_k=1, stop=stop)
    assert text == plain["choices"][0]["text"]
