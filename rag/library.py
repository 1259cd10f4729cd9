"""The reader's article library: add files to the corpus folder, list articles, remove one.

Adding checks each file first (readable, supported, not already there) and only then
copies (or links) it into the corpus; a bad file never enters it. Removing moves the
article's file to ``<corpus>/.rag/trash/``, so nothing is lost for good. Both then
update the index incrementally (``open_index``: only new articles are embedded, the
new generation replaces the old one atomically); a ``Pipeline`` opens it on its next use.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import textstore
from .config import Settings
from .corpus import CorpusError, Skipped
from .embedder import Embedder
from .index import IndexReport, open_index
from .readers import SUFFIXES, TEXT_SUFFIXES, Unreadable, read
from .schema import Document

Progress = Callable[[float, str], None]  # (fraction done, what is happening)
EMBED_STEP = 256  # texts embedded between two progress reports
READ_SHARE = 0.2  # of the progress bar: reading files; the rest is embedding


@dataclass(frozen=True)
class Added:
    source: str  # the path given
    stored: str  # the file in the corpus folder
    doc_id: str


@dataclass
class Change:
    added: list[Added] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # doc_ids
    index: IndexReport | None = None


class ProgressEmbedder(Embedder):
    """Embeds through ``inner`` in steps of ``EMBED_STEP`` texts, reporting the share done."""

    def __init__(self, inner: Embedder, report: Callable[[float], None]):
        self.inner, self.report = inner, report
        self.name, self.fingerprint, self.dim = inner.name, inner.fingerprint, inner.dim

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _embed(self, texts: list[str], progress: bool) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), EMBED_STEP):
            parts.append(self.inner.embed(texts[start : start + EMBED_STEP]))
            self.report(min(1.0, (start + EMBED_STEP) / len(texts)))
        return np.vstack(parts)


# -- adding -----------------------------------------------------------------------------


def expand(paths: Iterable[Path | str]) -> list[Path]:
    """Files to add: each path itself, or the article files anywhere under a folder."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            out.append(path)
    return out


def safe_stem(stem: str) -> str:
    """A doc_id from a file name: ``"Deal: US & China"`` -> ``"Deal_US_China"``."""
    return re.sub(r"_+", "_", re.sub(r"[^\w.-]", "_", stem)).strip("._") or "article"


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in Path(corpus_dir).iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


@dataclass
class _Target:
    """The corpus folder as files are added to it: names taken, sizes of its files, contents seen."""

    folder: Path
    max_bytes: int
    taken: set[str] = field(default_factory=set)
    sizes: dict[int, list[Path]] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)  # content hash -> stored name, this batch

    @classmethod
    def of(cls, settings: Settings) -> _Target:
        folder = Path(settings.corpus_dir)
        folder.mkdir(parents=True, exist_ok=True)
        target = cls(folder, int(settings.max_file_mb * 1024 * 1024))
        for p in corpus_files(folder):
            target.taken.add(p.stem)
            target.sizes.setdefault(p.stat().st_size, []).append(p)
        return target

    def holding(self, size: int, digest: str) -> str | None:
        """The name of a file with this content already in the corpus (only same-size files are hashed)."""
        same_size = (
            p for p in self.sizes.get(size, []) if hashlib.sha256(p.read_bytes()).hexdigest() == digest
        )
        return self.seen.get(digest) or next((p.name for p in same_size), None)

    def free_id(self, stem: str) -> str:
        doc_id, n = safe_stem(stem), 1
        while doc_id in self.taken:
            n += 1
            doc_id = f"{safe_stem(stem)}-{n}"
        return doc_id


def add_files(
    settings: Settings,
    embedder: Embedder,
    paths: Iterable[Path | str],
    *,
    link: bool = False,
    progress: Progress | None = None,
) -> Change:
    """Copy (or symlink, with ``link``) the readable article files among ``paths`` into the
    corpus folder and update the index; each file not added is in ``skipped`` with why.

    A file whose name is taken gets a free one (``deal.html`` -> ``deal-2.html``); a file
    with the same content as one already in the corpus is skipped.
    """
    report = progress or (lambda fraction, message: None)
    target = _Target.of(settings)
    change = Change()
    files = expand(paths)
    for i, source in enumerate(files):
        report(READ_SHARE * i / max(1, len(files)), f"reading {source.name}")
        try:
            change.added.append(_add_one(source, target, link))
        except (Unreadable, OSError) as e:
            reason = str(e) if isinstance(e, Unreadable) else f"unreadable ({e.strerror or e})"
            change.skipped.append(Skipped(str(source), reason))
    if change.added:
        change.index = _update(settings, embedder, report)
    report(1.0, "done")
    return change


def _add_one(source: Path, target: _Target, link: bool) -> Added:
    suffix = source.suffix.lower()
    if suffix not in SUFFIXES:
        raise Unreadable(
            f"unsupported format {source.suffix or '(no suffix)'} (use {', '.join(sorted(SUFFIXES))})"
        )
    size = source.stat().st_size
    if size > target.max_bytes:
        raise Unreadable(f"too large ({size} bytes, limit {target.max_bytes})")
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if same := target.holding(size, digest):
        raise Unreadable(f"already in the corpus as {same}")
    extracted = read(suffix, data)  # raises Unreadable: a bad file never enters the corpus
    doc_id = target.free_id(source.stem)
    stored = target.folder / f"{doc_id}{suffix}"
    if suffix not in TEXT_SUFFIXES:
        textstore.put(target.folder, doc_id, digest, extracted)
    _place(source, stored, link)
    target.taken.add(doc_id)
    target.seen[digest] = stored.name
    return Added(str(source), str(stored), doc_id)


def _place(source: Path, target: Path, link: bool) -> None:
    """Copy or symlink ``source`` to ``target`` atomically: a half-written article is never read."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".adding-")
    os.close(fd)
    try:
        if link:
            os.unlink(tmp)
            os.symlink(source.resolve(), tmp)
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _update(settings: Settings, embedder: Embedder, report: Progress) -> IndexReport:
    def embedded(share: float) -> None:
        report(READ_SHARE + (1 - READ_SHARE) * share, "embedding articles")

    report(READ_SHARE, "updating the index")
    return open_index(settings, ProgressEmbedder(embedder, embedded), progress=False)[1]


# -- listing and removing -----------------------------------------------------------------


def articles(documents: dict[str, Document]) -> list[Document]:
    """The indexed articles, newest first; undated ones last, by title."""
    dated = sorted((d for d in documents.values() if d.published), key=lambda d: (d.published, d.title))
    undated = sorted((d for d in documents.values() if not d.published), key=lambda d: d.title.lower())
    return dated[::-1] + undated


def remove_article(settings: Settings, embedder: Embedder, doc_id: str) -> Change:
    """Move ``doc_id``'s file to ``<corpus>/.rag/trash/`` and drop it from the index.

    Raises ``ValueError`` when there is no such article, or when it is the last one (an
    index needs at least one article).
    """
    corpus = Path(settings.corpus_dir)
    files = corpus_files(corpus)
    path = next((p for p in files if p.stem == doc_id), None)  # the file load_corpus reads for doc_id
    if path is None:
        raise ValueError(f"No article {doc_id!r} in {corpus}")
    if len({p.stem for p in files}) == 1:
        raise ValueError(f"{path.name} is the last article: add another before removing it")
    trash = corpus / textstore.STATE_DIR / "trash"
    trash.mkdir(parents=True, exist_ok=True)
    target = trash / path.name
    if target.exists() or target.is_symlink():
        target = trash / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}"
    os.replace(path, target)
    try:
        report = open_index(settings, embedder, progress=False)[1]
    except CorpusError as e:  # nothing usable would be left: put the file back
        os.replace(target, path)
        raise ValueError(f"{path.name} is the last usable article: add another before removing it") from e
    textstore.drop(corpus, doc_id)
    return Change(removed=[doc_id], index=report)
