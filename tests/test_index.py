"""The persistent index: incremental updates, validation, atomic saves."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag import index as index_mod
from rag.config import Settings
from rag.index import open_index

from .conftest import FakeEmbedder

NEW_ARTICLE = (
    "Gallium talks\n\nOfficials met in Oslo to discuss gallium quotas. The talks ended without a deal.\n"
)


def settings_for(corpus: Path, tmp_path: Path, **changes) -> Settings:
    return Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "idx", **changes)


def test_second_open_reuses_everything(seeds, tmp_path):
    s = settings_for(seeds, tmp_path)
    first, report = open_index(s, FakeEmbedder(), progress=False)
    assert report.embedded == report.chunks == len(first.chunks) > 0
    again, report2 = open_index(s, FakeEmbedder(), progress=False)
    assert (report2.embedded, report2.reused, report2.rebuilt_because) == (0, len(first.chunks), None)
    assert again.manifest["built_at"] == first.manifest["built_at"]


def test_manifest_describes_the_index(seeds, tmp_path):
    s = settings_for(seeds, tmp_path)
    open_index(s, FakeEmbedder(), progress=False)
    manifest = json.loads((tmp_path / "idx" / "current" / "manifest.json").read_text())
    assert manifest["format_version"] == index_mod.FORMAT_VERSION
    assert manifest["embedder"] == {"name": "fake-embedder", "fingerprint": "fake-1"}
    assert manifest["dimension"] == 256
    assert manifest["chunking"]["max_tokens"] == s.chunk_tokens
    assert set(manifest["documents"]) == {p.stem for p in seeds.glob("*.txt")}
    assert manifest["built_at"]


def test_a_new_article_goes_last_and_the_prefix_state_is_carried_over(seeds, tmp_path):
    """Whole-corpus mode reads articles in manifest order, so an added one ("000_a", first by
    name) must come last; the saved prefix state moves into the new generation, where the
    articles it shares still count."""
    s = settings_for(seeds, tmp_path)
    first, _ = open_index(s, FakeEmbedder(), progress=False)
    (tmp_path / "idx" / "current" / "prefix-abc.kv").write_bytes(b"state")
    (seeds / "000_a.txt").write_text(NEW_ARTICLE)
    second, _ = open_index(s, FakeEmbedder(), progress=False)
    assert list(second.documents) == [*first.documents, "000_a"]
    assert list(second.manifest["documents"]) == list(second.documents)
    assert (tmp_path / "idx" / "current" / "prefix-abc.kv").read_bytes() == b"state"
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 1


@pytest.mark.parametrize("name", ["manifest.json", "chunks.jsonl", "index.faiss", "sentences.faiss"])
@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_file_triggers_a_rebuild(seeds, tmp_path, name, damage, caplog):
    s = settings_for(seeds, tmp_path)
    built, _ = open_index(s, FakeEmbedder(), progress=False)
    path = tmp_path / "idx" / "current" / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"{not json" + data[5:])
    rebuilt, report = open_index(s, FakeEmbedder(), progress=False)
    assert report.rebuilt_because
    assert report.embedded == len(built.chunks)
    assert "Rebuilding the index" in caplog.text
    assert [c.text for c in rebuilt.chunks] == [c.text for c in built.chunks]


@pytest.mark.parametrize(
    "change",
    [{"chunk_tokens": 60}, {"chunk_overlap": 0}, {"index_type": "hnsw"}],
    ids=["tokens", "overlap", "type"],
)
def test_changed_settings_trigger_a_rebuild(seeds, tmp_path, change):
    open_index(settings_for(seeds, tmp_path), FakeEmbedder(), progress=False)
    _, report = open_index(settings_for(seeds, tmp_path, **change), FakeEmbedder(), progress=False)
    assert report.rebuilt_because and "changed" in report.rebuilt_because


def test_another_embedder_triggers_a_rebuild(seeds, tmp_path):
    s = settings_for(seeds, tmp_path)
    open_index(s, FakeEmbedder(), progress=False)
    other = FakeEmbedder()
    other.fingerprint = "fake-2"
    _, report = open_index(s, other, progress=False)
    assert "embedder changed" in report.rebuilt_because


def test_crash_while_saving_keeps_the_previous_index(seeds, tmp_path, monkeypatch):
    """A failure after the new generation is half written must leave ``current`` as it was."""
    s = settings_for(seeds, tmp_path)
    before, _ = open_index(s, FakeEmbedder(), progress=False)
    (seeds / "new.txt").write_text(NEW_ARTICLE)

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "symlink", boom)
    with pytest.raises(OSError, match="disk full"):
        open_index(s, FakeEmbedder(), progress=False)
    monkeypatch.undo()
    (seeds / "new.txt").unlink()
    after, report = open_index(s, FakeEmbedder(), progress=False)
    assert report.embedded == 0 and report.rebuilt_because is None
    assert len(after.chunks) == len(before.chunks)
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 1


def test_two_openers_at_once_take_turns(seeds, tmp_path):
    """The page's start-up and an upload may both open the index: the second waits for the
    first and reuses its vectors, instead of both writing a generation."""

    class Slow(FakeEmbedder):
        def _embed(self, texts, progress):
            time.sleep(0.3)
            return super()._embed(texts, progress)

    s = settings_for(seeds, tmp_path)
    with ThreadPoolExecutor(2) as pool:
        reports = [r for _, r in pool.map(lambda _: open_index(s, Slow(), progress=False), range(2))]
    assert sorted(r.embedded for r in reports) == [0, reports[0].chunks]
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 1


def test_empty_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No usable"):
        open_index(settings_for(tmp_path / "empty", tmp_path), FakeEmbedder(), progress=False)


def test_bad_files_are_skipped_and_reported(seeds, tmp_path):
    (seeds / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (seeds / "latin1.md").write_bytes(
        "Caf\xe9 au lait\n\nThe caf\xe9 in S\xe3o Paulo raised prices.\n".encode("latin-1")
    )
    (seeds / "empty.txt").write_text("   \n")
    (seeds / "huge.txt").write_text("word " * 300_000)  # 1.5 MB, over the 1 MB limit set here
    index, report = open_index(settings_for(seeds, tmp_path, max_file_mb=1.0), FakeEmbedder(), progress=False)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"binary.txt", "empty.txt", "huge.txt"}
    assert "too large" in reasons["huge.txt"]
    assert len(index.documents) == 6 and index.documents["latin1"].encoding == "cp1252"
    sources = json.loads((tmp_path / "idx" / "current" / "manifest.json").read_text())["sources"]
    assert sources["latin1"]["encoding"] == "cp1252" and sources["latin1"]["format"] == "text"
    assert (
        sources["latin1"]["path"] == str(seeds / "latin1.md") and len(sources["latin1"]["file_sha256"]) == 64
    )


@pytest.mark.real
def test_incremental_update_with_the_real_embedder(seeds, tmp_path, real_embedder):
    """Add, modify, then delete one article; only its chunks are embedded, and stale text vanishes."""
    from rag.retrieve import Retriever

    s = settings_for(seeds, tmp_path)
    base, report = open_index(s, real_embedder, progress=False)
    assert report.embedded == len(base.chunks)

    (seeds / "new.txt").write_text(NEW_ARTICLE)
    added, report = open_index(s, real_embedder, progress=False)
    new_chunks = [c for c in added.chunks if c.doc_id == "new"]
    assert (report.embedded, report.reused) == (len(new_chunks), len(base.chunks))

    (seeds / "new.txt").write_text(
        NEW_ARTICLE.replace("Oslo", "Lisbon").replace("gallium quotas", "tin exports")
    )
    changed, report = open_index(s, real_embedder, progress=False)
    assert (report.embedded, report.reused) == (len(new_chunks), len(base.chunks))
    hits = Retriever(changed, real_embedder).search("Where did officials discuss gallium quotas?", k=20)
    texts = " ".join(h.chunk.text for h in hits)
    assert "Lisbon" in texts and "Oslo" not in texts

    (seeds / "new.txt").unlink()
    removed, report = open_index(s, real_embedder, progress=False)
    assert (report.embedded, report.removed_documents) == (0, 1)
    assert all(c.doc_id != "new" for c in removed.chunks)
    assert removed.sentence_vectors.shape[0] == len(removed.sentences)


@pytest.mark.real
def test_rag_index_twice_embeds_nothing_the_second_time(tmp_path, capsys):
    from rag.cli import main

    args = ["index", "--index-dir", str(tmp_path / "cli-idx")]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "embedded: 0" not in first and "embedded: 0 " in second
