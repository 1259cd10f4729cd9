"""A persistent, self-describing FAISS index over the corpus chunks.

Layout under ``index_dir``::

    current -> gen-<stamp>/        symlink, swapped atomically after each build
    gen-<stamp>/index.faiss        the chunk vectors
    gen-<stamp>/sentences.faiss    the vectors of every chunk sentence, for evidence selection
    gen-<stamp>/chunks.jsonl       one Chunk per line, in vector order
    gen-<stamp>/manifest.json      format version, embedder, dimension, chunking,
                                   document hashes (in corpus order), file hashes, build
                                   time, and each document's source (path, file hash,
                                   format, encoding)
    gen-<stamp>/prefix-<model>.*   the KV state of the whole-corpus prompt (rag/context.py),
                                   carried into the next generation, where its shared
                                   start still counts

``open_index`` validates all of it against the corpus and the embedder. Only new
or changed documents are embedded again; anything corrupt or built with other
settings is rebuilt from scratch with a warning that says why.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .chunking import chunk_document
from .config import Settings
from .corpus import Skipped, load_corpus, provenance
from .embedder import Embedder
from .schema import Chunk, Document

FORMAT_VERSION = 1
CHUNKER_VERSION = 2
FILES = ("index.faiss", "sentences.faiss", "chunks.jsonl")
CARRIED = "prefix-*"  # files other modules keep in a generation, linked into the next one
# One query is searched on one thread: over 100k chunks on the 2-core machine, flat search p95
# was 45-108 ms with FAISS's 2 OpenMP threads and 18-31 ms on one (`rag scale`, busy machine).
SEARCH_THREADS = 1
# HNSW search depth: recall@10 against flat 0.994 on 13,926 real chunk vectors and 0.986 on
# 100k simulated ones, at p95 under 0.5 ms; FAISS's default of 16 gave 0.960 and 0.804 (`rag scale`).
HNSW_EF_SEARCH = 64
log = logging.getLogger(__name__)


class StaleIndex(RuntimeError):
    """The stored index cannot be used; the message says why."""


@dataclass
class IndexReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    removed_documents: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    rebuilt_because: str | None = None
    seconds: float = 0.0


@dataclass
class VectorIndex:
    chunks: list[Chunk]
    vectors: np.ndarray
    sentence_vectors: np.ndarray  # one row per ``sentence_spans(chunks)`` item
    documents: dict[str, Document]
    manifest: dict
    faiss_index: object = None
    generation: Path | None = None  # the folder it was read from or written to

    @property
    def sentences(self) -> list[tuple[str, int, int]]:
        return sentence_spans(self.chunks)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Positions in ``chunks`` and inner-product scores of the ``k`` nearest chunks."""
        import faiss

        if not self.chunks:
            return []
        faiss.omp_set_num_threads(SEARCH_THREADS)
        scores, ids = self.faiss_index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


# -- pure helpers ----------------------------------------------------------------


def expected_settings(settings: Settings, embedder: Embedder) -> dict:
    """What the manifest must say for a stored index to be reusable."""
    return {
        "format_version": FORMAT_VERSION,
        "embedder": {"name": embedder.name, "fingerprint": embedder.fingerprint},
        "dimension": embedder.dim,
        "chunking": {
            "version": CHUNKER_VERSION,
            "max_tokens": settings.chunk_tokens,
            "overlap": settings.chunk_overlap,
        },
        "index_type": settings.index_type,
    }


def mismatch(manifest: dict, expected: dict) -> str | None:
    """Why a manifest does not fit the expected settings, or None when it does."""
    for key, want in expected.items():
        if manifest.get(key) != want:
            return f"{key} changed (index has {manifest.get(key)!r}, settings want {want!r})"
    return None


def sentence_spans(chunks: list[Chunk]) -> list[tuple[str, int, int]]:
    """Every distinct sentence of the chunks as (doc_id, start, end), documents in chunk order.

    Chunks overlap, so a sentence may sit in two chunks; it is listed once.
    """
    seen: dict[str, set[tuple[int, int]]] = {}
    for c in chunks:
        seen.setdefault(c.doc_id, set()).update(c.sentences)
    return [(d, a, b) for d, spans in seen.items() for a, b in sorted(spans)]


def chunk_to_json(c: Chunk) -> str:
    return json.dumps(dataclasses.asdict(c), ensure_ascii=False)


def chunk_from_json(line: str) -> Chunk:
    d = json.loads(line)
    return Chunk(
        d["doc_id"], d["chunk_id"], d["text"], d["start"], d["end"], tuple(map(tuple, d["sentences"]))
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- FAISS -------------------------------------------------------------------------


def make_faiss(vectors: np.ndarray, index_type: str):
    import faiss

    dim = vectors.shape[1]
    if index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"Unknown index type {index_type!r}: use 'flat' or 'hnsw'")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


# -- load and save -----------------------------------------------------------------


def load_stored(index_dir: Path, expected: dict) -> tuple[list[Chunk], np.ndarray, np.ndarray, dict]:
    """Read and validate a stored index, or raise StaleIndex saying what is wrong."""
    import faiss

    current = Path(index_dir) / "current"
    if not current.exists():
        raise StaleIndex("no index built yet")
    try:
        manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise StaleIndex(f"manifest.json is unreadable ({e})") from None
    if not isinstance(manifest, dict):
        raise StaleIndex("manifest.json is not an object")
    reason = mismatch(manifest, expected)
    if reason:
        raise StaleIndex(reason)
    for name in FILES:
        path = current / name
        if not path.is_file() or _sha256(path) != manifest.get("files", {}).get(name):
            raise StaleIndex(f"{name} is missing or does not match its recorded hash")
    try:
        lines = (current / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        chunks = [chunk_from_json(line) for line in lines if line.strip()]
        stored = faiss.read_index(str(current / "index.faiss"))
        stored_sentences = faiss.read_index(str(current / "sentences.faiss"))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise StaleIndex(f"index files are unreadable ({e})") from None
    n_sentences = len(sentence_spans(chunks))
    for what, got, want in (("chunk", stored, len(chunks)), ("sentence", stored_sentences, n_sentences)):
        if got.ntotal != want or got.d != expected["dimension"]:
            raise StaleIndex(f"index holds {got.ntotal} {what} vectors of dim {got.d}, expected {want}")
    return chunks, _vectors(stored), _vectors(stored_sentences), manifest


def _vectors(index) -> np.ndarray:
    return index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)


def save(index_dir: Path, index: VectorIndex) -> None:
    """Write a new generation folder, then atomically repoint ``current`` at it."""
    import faiss

    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = Path(tempfile.mkdtemp(prefix="gen-", dir=index_dir))
    try:
        faiss.write_index(index.faiss_index, str(gen / "index.faiss"))
        faiss.write_index(make_faiss(index.sentence_vectors, "flat"), str(gen / "sentences.faiss"))
        (gen / "chunks.jsonl").write_text("".join(chunk_to_json(c) + "\n" for c in index.chunks), "utf-8")
        index.manifest["files"] = {name: _sha256(gen / name) for name in FILES}
        (gen / "manifest.json").write_text(json.dumps(index.manifest, indent=2), "utf-8")
        gen.chmod(0o755)
        current = index_dir / "current"
        for kept in current.resolve().glob(CARRIED) if current.exists() else ():
            _link_or_copy(kept, gen / kept.name)
        link = index_dir / f".current-{gen.name}"
        os.symlink(gen.name, link)
        os.replace(link, index_dir / "current")
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        raise
    for old in index_dir.glob("gen-*"):
        if old.name != gen.name:
            shutil.rmtree(old, ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    """Carried files are replaced, never changed in place, so a hard link is as good as a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@contextmanager
def _exclusive(index_dir: Path):
    """Hold ``index_dir``'s lock file: one reader or writer at a time, across threads and
    processes (the page's start-up and an upload, or ``rag add`` beside the page)."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = open(index_dir / ".lock", "a")  # noqa: SIM115 - held across the yield
    except OSError:  # a read-only index: nobody can write it, so there is nothing to wait for
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def open_index(
    settings: Settings, embedder: Embedder, rebuild: bool = False, progress: bool = True
) -> tuple[VectorIndex, IndexReport]:
    """Load the index for ``settings.corpus_dir``, updating or rebuilding it as needed.

    Callers take turns, so a second one finds the first one's update and reuses it."""
    with _exclusive(Path(settings.index_dir)):
        return _open_index(settings, embedder, rebuild, progress)


def _open_index(
    settings: Settings, embedder: Embedder, rebuild: bool, progress: bool
) -> tuple[VectorIndex, IndexReport]:
    started = time.perf_counter()
    documents, skipped = load_corpus(settings.corpus_dir, int(settings.max_file_mb * 1024 * 1024))
    expected = expected_settings(settings, embedder)
    report = IndexReport(skipped=skipped)

    empty = np.zeros((0, embedder.dim), np.float32)
    stored_chunks, stored_vectors, stored_sentence_vectors, stored_manifest = [], empty, empty, {}
    if rebuild:
        report.rebuilt_because = "a rebuild was asked for"
    else:
        try:
            stored_chunks, stored_vectors, stored_sentence_vectors, stored_manifest = load_stored(
                settings.index_dir, expected
            )
        except StaleIndex as e:
            report.rebuilt_because = str(e)
            if (Path(settings.index_dir) / "current").exists():
                log.warning("Rebuilding the index: %s", e)

    old_docs = stored_manifest.get("documents", {})
    rank = {doc_id: i for i, doc_id in enumerate(old_docs)}
    documents.sort(key=lambda d: rank.get(d.doc_id, len(rank)))  # new articles go last, in name order
    unchanged = {d.doc_id for d in documents if old_docs.get(d.doc_id) == d.sha256}
    keep = [i for i, c in enumerate(stored_chunks) if c.doc_id in unchanged]
    fresh = [
        chunk
        for doc in documents
        if doc.doc_id not in unchanged or not any(stored_chunks[i].doc_id == doc.doc_id for i in keep)
        for chunk in chunk_document(doc, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)
    ]
    report.removed_documents = len(set(old_docs) - {d.doc_id for d in documents})
    chunks = [stored_chunks[i] for i in keep] + fresh
    texts = {d.doc_id: d.text for d in documents}
    old_rows = {span: row for row, span in enumerate(sentence_spans(stored_chunks))}
    new_spans = [span for span in sentence_spans(chunks) if span[0] not in unchanged or span not in old_rows]
    if progress and fresh:
        log.info("Embedding %d chunks and %d sentences", len(fresh), len(new_spans))
    new_vectors = embedder.embed([c.text for c in fresh] + [texts[d][a:b] for d, a, b in new_spans], progress)
    new_rows = {span: row for row, span in enumerate(new_spans)}
    vectors = np.vstack([stored_vectors[keep], new_vectors[: len(fresh)]])
    sentence_vectors = np.vstack(
        [
            stored_sentence_vectors[old_rows[span]]
            if span in old_rows and span[0] in unchanged
            else new_vectors[len(fresh) + new_rows[span]]
            for span in sentence_spans(chunks)
        ]
        or [empty]
    )
    changed = bool(fresh) or report.removed_documents > 0 or len(keep) != len(stored_chunks)
    changed = changed or report.rebuilt_because is not None
    manifest = stored_manifest
    if changed:
        manifest = {
            **expected,
            "documents": {d.doc_id: d.sha256 for d in documents},
            "sources": {d.doc_id: provenance(d) for d in documents},
            "chunks": len(chunks),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    index = VectorIndex(chunks, vectors, sentence_vectors, {d.doc_id: d for d in documents}, manifest)
    index.faiss_index = make_faiss(vectors, settings.index_type)
    if changed:
        save(settings.index_dir, index)
    index.generation = (Path(settings.index_dir) / "current").resolve()  # still under the lock

    report.documents, report.chunks = len(documents), len(chunks)
    report.embedded, report.reused = len(fresh), len(keep)
    report.seconds = time.perf_counter() - started
    return index, report
