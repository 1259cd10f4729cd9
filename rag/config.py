"""Settings: the one place where environment variables are read.

Every field can be overridden by ``RAG_<FIELD>`` (for example ``RAG_TOP_K=5``).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = field(
        default=ROOT / "seeds", metadata={"help": "folder of articles: .txt, .md, .html, .htm, .pdf"}
    )
    index_dir: Path = field(default=ROOT / "index", metadata={"help": "where the built index lives"})
    cache_dir: Path = field(
        default=Path.home() / ".cache" / "rag-assistant" / "models",
        metadata={"help": "where provisioned model files live"},
    )
    llm_model: str = field(default="qwen2.5-coder-1.5b", metadata={"help": "generator model name"})
    llm_path: Path | None = field(default=None, metadata={"help": "any other GGUF file (no hash check)"})
    embed_model: str = field(default="all-minilm-l6-v2", metadata={"help": "embedder model name"})
    threads: int = field(default_factory=_usable_cores, metadata={"help": "CPU threads for the generator"})
    top_k: int = field(default=8, metadata={"help": "chunks retrieved per question"})
    context: str = field(
        default="auto",
        metadata={"help": "what the model reads: 'corpus', 'evidence' or 'auto' (corpus if it fits)"},
    )
    corpus_tokens: int = field(default=6000, metadata={"help": "largest corpus read whole, in tokens"})
    evidence_tokens: int = field(default=700, metadata={"help": "token budget for evidence in the prompt"})
    answer_tokens: int = field(default=256, metadata={"help": "most tokens a generated answer may have"})
    draft_tokens: int = field(
        default=4, metadata={"help": "tokens drafted from the prompt per decoding step (0: plain greedy)"}
    )
    verify_claims: bool = field(
        default=True, metadata={"help": "also ask the model whether each claim's quotes state it"}
    )
    chunk_tokens: int = field(default=120, metadata={"help": "token budget of one chunk"})
    chunk_overlap: int = field(default=1, metadata={"help": "sentences shared by neighbouring chunks"})
    index_type: str = field(default="flat", metadata={"help": "'flat' (exact) or 'hnsw' (approximate)"})
    max_file_mb: float = field(default=5.0, metadata={"help": "larger corpus files are skipped"})
    seed: int = field(default=0, metadata={"help": "generation seed"})
    llm_url: str | None = field(
        default=None,
        metadata={
            "help": "OpenAI-compatible model server (e.g. http://127.0.0.1:8080/v1); unset: in-process"
        },
    )
    llm_api_key: str | None = field(
        default=None, repr=False, metadata={"help": "bearer key for the model server at llm_url"}
    )
    llm_timeout: float = field(default=300.0, metadata={"help": "seconds to wait for the model server"})
    host: str = field(default="127.0.0.1", metadata={"help": "address the chat page and API bind to"})
    port: int = field(default=7860, metadata={"help": "port of the chat page and API"})
    api_key: str | None = field(
        default=None, repr=False, metadata={"help": "bearer key the API requires (needed off loopback)"}
    )
    max_parallel: int = field(
        default=4, metadata={"help": "answers run at once with a model server (in-process: always 1)"}
    )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then ``RAG_*`` variables, then explicit ``overrides`` (None ones ignored)."""
        env = os.environ if env is None else env
        values = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"RAG_{f.name.upper()}")
            if raw not in (None, ""):
                values[f.name] = _parse(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def converter(name: str) -> Callable[[str], object]:
    """Text to the type of settings field ``name``: ``converter("top_k")("5") == 5``.

    ``X | None`` fields convert to ``X``; an unset value is simply not given.
    """
    kind = typing.get_type_hints(Settings)[name]
    kind = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
    if kind is bool:
        return _boolean
    return (lambda raw: Path(raw).expanduser()) if kind is Path else kind


def _boolean(raw: str) -> bool:
    """``"1"``, ``"true"``, ``"yes"``, ``"on"`` -> True; ``"0"``, ``"false"``, ``"no"``, ``"off"`` -> False"""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{raw!r} is not a yes/no value")


def _parse(name: str, raw: str):
    convert = converter(name)
    try:
        return convert(raw)
    except ValueError:
        raise ValueError(f"RAG_{name.upper()}={raw!r} is not a valid {convert.__name__}") from None


def offline_env() -> None:
    """Make sure nothing in the embedder stack reaches for a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
