"""Shared fakes and fixtures.

Fakes implement the same one-method interfaces as the real backends. Real-model
fixtures are session-scoped, so each model loads once per test run, and every
index they build lives under a temporary directory, never in the working tree.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.chunking import approx_tokens
from rag.config import Settings
from rag.embedder import Embedder
from rag.llm import Generator

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
STOPWORDS = set(
    "a an and are as at be by did do does for from had has have in is it of on or that the to"
    " was were what when where which who why will with".split()
)


@functools.cache
def _word_vector(word: str, dim: int) -> np.ndarray:
    return np.random.default_rng(int(hashlib.md5(word.encode()).hexdigest()[:8], 16)).standard_normal(dim)


class FakeEmbedder(Embedder):
    """Deterministic bag-of-words vectors: the sum of a fixed random vector per content word,
    so texts sharing words are similar and unrelated texts are nearly orthogonal."""

    name = "fake-embedder"
    fingerprint = "fake-1"
    dim = 256

    def __init__(self):
        self.calls: list[int] = []

    def _embed(self, texts, progress):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in set(re.findall(r"\w+", text.lower())) - STOPWORDS:
                out[row] += _word_vector(word, self.dim)
            out[row, 0] += 1e-3  # no all-zero rows
        return out

    def count_tokens(self, text):
        return approx_tokens(text)


class FakeGenerator(Generator):
    """Replays queued outputs in order and records the prompts it saw."""

    name = "fake-generator"

    def __init__(self, *outputs: str):
        self.outputs = list(outputs)
        self.prompts: list[list[dict]] = []

    def _stream(self, messages, max_tokens, stats):
        self.prompts.append(messages)
        text = self.outputs.pop(0)
        stats["prompt_tokens"] = sum(approx_tokens(m["content"]) for m in messages)
        stats["completion_tokens"] = 0
        for piece in re.findall(r"\S+\s*", text):
            stats["completion_tokens"] += 1
            yield piece


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Indexes go to a temp dir; model files still come from the real cache."""
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))


@pytest.fixture
def seeds(tmp_path) -> Path:
    """A private copy of the seed articles that a test may change."""
    return Path(shutil.copytree(SEEDS, tmp_path / "seeds"))


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory) -> Settings:
    return Settings.from_env(index_dir=tmp_path_factory.mktemp("real-index"), corpus_dir=SEEDS)


@pytest.fixture(scope="session")
def real_pipeline(real_settings):
    """The real embedder, FAISS index and default GGUF model, shared by the whole session."""
    from rag.pipeline import Pipeline

    return Pipeline(real_settings)


@pytest.fixture(scope="session")
def real_embedder(real_pipeline):
    return real_pipeline.embedder
