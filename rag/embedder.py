"""Embedders: text in, L2-normalised float32 vectors out."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .config import offline_env


class Embedder:
    """One method to implement, ``_embed``; the base class batches and checks input."""

    name: str = "embedder"
    fingerprint: str = ""  # identifies the weights, recorded in the index manifest
    dim: int = 0
    batch_size: int = 64

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._embed(texts, progress), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _embed(self, texts: list[str], progress: bool) -> np.ndarray:
        raise NotImplementedError


class SentenceTransformerEmbedder(Embedder):
    """all-MiniLM-L6-v2 (or any sentence-transformers folder), loaded once on first use."""

    def __init__(self, path: Path, name: str, fingerprint: str, dim: int = 384):
        self.path, self.name, self.fingerprint, self.dim = Path(path), name, fingerprint, dim
        self._model = None
        self._lock = threading.RLock()  # loading, and every use: the tokenizer is not thread-safe

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                offline_env()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            return self._model

    def _embed(self, texts: list[str], progress: bool) -> np.ndarray:
        with self._lock:
            return self.model.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=progress and len(texts) > self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])
