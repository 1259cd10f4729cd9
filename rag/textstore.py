"""The text extracted from HTML and PDF articles, stored beside them in the corpus folder.

``<corpus>/.rag/text/<doc_id>.json`` holds the stored text, its metadata and the
hash of the file it came from. Quotes are cut from this text, so it can be
re-checked later, and a file is only read again when it (or ``READER_VERSION``)
changed: a newer trafilatura or pypdf never moves the offsets of an indexed article.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict
from datetime import date
from pathlib import Path

from .readers import READER_VERSION, Extracted

STATE_DIR = ".rag"  # inside the corpus folder: stored text and removed articles
log = logging.getLogger(__name__)


def text_dir(corpus_dir: Path) -> Path:
    return Path(corpus_dir) / STATE_DIR / "text"


def get(corpus_dir: Path, doc_id: str, file_sha256: str) -> Extracted | None:
    """The stored extraction of ``doc_id`` if it was made from this very file by this reader version."""
    try:
        data = json.loads((text_dir(corpus_dir) / f"{doc_id}.json").read_text(encoding="utf-8"))
        if data.pop("file_sha256") != file_sha256 or data.pop("reader_version") != READER_VERSION:
            return None
        data["published"] = date.fromisoformat(data["published"]) if data["published"] else None
        data["pages"] = tuple(data["pages"])
        return Extracted(**data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def put(corpus_dir: Path, doc_id: str, file_sha256: str, extracted: Extracted) -> None:
    """Store an extraction atomically; a corpus folder we may not write to only costs a re-read."""
    record = asdict(extracted) | {
        "published": extracted.published.isoformat() if extracted.published else None,
        "file_sha256": file_sha256,
        "reader_version": READER_VERSION,
    }
    folder = text_dir(corpus_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{doc_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, ensure_ascii=False)
            os.replace(tmp, folder / f"{doc_id}.json")
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as e:
        log.debug("Could not store the extracted text of %s: %s", doc_id, e)


def drop(corpus_dir: Path, doc_id: str) -> None:
    (text_dir(corpus_dir) / f"{doc_id}.json").unlink(missing_ok=True)
