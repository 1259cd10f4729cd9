"""Adding and removing articles: files checked before they enter the corpus, incremental
index updates, nothing lost (fake embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import library, textstore
from rag.config import Settings
from rag.index import open_index
from rag.pipeline import Pipeline

from .conftest import FakeEmbedder, FakeGenerator
from .files import news_html, tiny_pdf

GALLIUM = [
    "Norway and Chile signed a gallium supply agreement in Oslo on Thursday.",
    "Under the deal, Chile will ship 340 tonnes of gallium to Norwegian refiners each year.",
]


@pytest.fixture
def settings(seeds, tmp_path) -> Settings:
    return Settings.from_env(corpus_dir=seeds, index_dir=tmp_path / "idx")


@pytest.fixture
def incoming(tmp_path) -> Path:
    """Files a reader saved: a news page, a PDF, a Latin-1 text, and three bad ones."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "gallium deal.html").write_text(news_html("Gallium deal signed in Oslo", GALLIUM), "utf-8")
    (folder / "tin.pdf").write_bytes(
        tiny_pdf([["Tin exports resume"], ["Bolivia shipped 90 tonnes of tin."]])
    )
    (folder / "café.txt").write_bytes(
        "Café prices\n\nCafé owners in São Paulo raised prices.\n".encode("latin-1")
    )
    (folder / "scan.pdf").write_bytes(tiny_pdf([[]]))
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    return folder


def test_add_copies_readable_files_and_indexes_only_them(settings, incoming, seeds):
    before, _ = open_index(settings, FakeEmbedder(), progress=False)
    steps: list[tuple[float, str]] = []
    change = library.add_files(
        settings, FakeEmbedder(), sorted(incoming.iterdir()), progress=lambda f, m: steps.append((f, m))
    )

    assert sorted(a.doc_id for a in change.added) == ["café", "gallium_deal", "tin"]
    reasons = {Path(s.path).name: s.reason for s in change.skipped}
    assert set(reasons) == {"scan.pdf", "photo.txt", "notes.docx"}
    assert "no text layer" in reasons["scan.pdf"] and "NUL" in reasons["photo.txt"]
    assert "unsupported format .docx" in reasons["notes.docx"]
    assert not any((seeds / name).exists() for name in ("scan.pdf", "photo.txt", "notes.docx"))
    assert (seeds / "gallium_deal.html").read_bytes() == (incoming / "gallium deal.html").read_bytes()

    report = change.index
    assert report.documents == len(before.documents) + 3
    assert report.reused == len(before.chunks) and report.embedded == report.chunks - len(before.chunks)
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("embedding" in m for _, m in steps)

    index, _ = open_index(settings, FakeEmbedder(), progress=False)
    assert index.documents["tin"].pages and index.documents["café"].encoding == "cp1252"
    sources = json.loads((settings.index_dir / "current" / "manifest.json").read_text())["sources"]
    assert sources["gallium_deal"]["format"] == "html" and sources["tin"]["format"] == "pdf"


def test_a_folder_adds_the_article_files_under_it(incoming):
    """Like the corpus loader, a folder's files of other formats are not articles and are left out."""
    assert [p.name for p in library.expand([incoming])] == [
        "café.txt",
        "gallium deal.html",
        "photo.txt",
        "scan.pdf",
        "tin.pdf",
    ]


def test_same_name_gets_a_free_one_and_same_content_is_skipped(settings, incoming, seeds):
    library.add_files(settings, FakeEmbedder(), [incoming / "gallium deal.html"])
    other = incoming / "other" / "gallium deal.html"
    other.parent.mkdir()
    other.write_text(news_html("Gallium talks collapse", GALLIUM[:1]), "utf-8")
    change = library.add_files(settings, FakeEmbedder(), [other, incoming / "gallium deal.html"])
    assert [a.doc_id for a in change.added] == ["gallium_deal-2"]
    assert [s.reason for s in change.skipped] == ["already in the corpus as gallium_deal.html"]


def test_nothing_readable_leaves_corpus_and_index_as_they_were(settings, incoming, seeds):
    open_index(settings, FakeEmbedder(), progress=False)
    current = (settings.index_dir / "current").resolve()
    files = sorted(p.name for p in seeds.iterdir())
    change = library.add_files(settings, FakeEmbedder(), [incoming / "scan.pdf", incoming / "missing.txt"])
    assert change.added == [] and change.index is None
    assert "unreadable" in change.skipped[1].reason
    assert sorted(p.name for p in seeds.iterdir()) == files
    assert (settings.index_dir / "current").resolve() == current


def test_link_adds_a_symlink_to_the_original(settings, incoming, seeds):
    change = library.add_files(settings, FakeEmbedder(), [incoming / "tin.pdf"], link=True)
    stored = Path(change.added[0].stored)
    assert stored.is_symlink() and stored.resolve() == (incoming / "tin.pdf").resolve()


def test_remove_moves_the_file_to_trash_and_drops_it_from_the_index(settings, incoming, seeds):
    library.add_files(settings, FakeEmbedder(), [incoming / "gallium deal.html"])
    assert (textstore.text_dir(seeds) / "gallium_deal.json").exists()
    change = library.remove_article(settings, FakeEmbedder(), "gallium_deal")
    assert change.removed == ["gallium_deal"] and change.index.removed_documents == 1
    assert not (seeds / "gallium_deal.html").exists()
    assert (seeds / ".rag" / "trash" / "gallium_deal.html").exists()
    assert not (textstore.text_dir(seeds) / "gallium_deal.json").exists()
    index, _ = open_index(settings, FakeEmbedder(), progress=False)
    assert "gallium_deal" not in index.documents and all(c.doc_id != "gallium_deal" for c in index.chunks)


def test_remove_refuses_unknown_and_last_articles(tmp_path):
    corpus = tmp_path / "one"
    corpus.mkdir()
    (corpus / "only.txt").write_text("Only article\n\nIt says one thing.\n")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "idx")
    with pytest.raises(ValueError, match="No article 'nope'"):
        library.remove_article(settings, FakeEmbedder(), "nope")
    with pytest.raises(ValueError, match="last usable article"):
        library.remove_article(settings, FakeEmbedder(), "only")
    assert (corpus / "only.txt").exists()


def test_pipeline_sees_added_and_removed_articles_on_its_next_use(settings, incoming):
    pipeline = Pipeline(settings, embedder=FakeEmbedder())
    assert "gallium_deal" not in pipeline.index.documents
    library.add_files(settings, pipeline.embedder, [incoming / "gallium deal.html"])
    assert pipeline.document("gallium_deal").outlet == "The Harbour Gazette"
    hits = pipeline.retriever.search("How many tonnes of gallium will Chile ship to Norway?", 3)
    assert hits[0].chunk.doc_id == "gallium_deal"
    library.remove_article(settings, pipeline.embedder, "gallium_deal")
    assert "gallium_deal" not in pipeline.index.documents


def test_pipeline_sees_articles_another_process_added_without_a_reload(settings, incoming):
    """``rag add`` in another process switches ``current`` to a new generation; the page's
    pipeline opens it on its next use."""
    pipeline = Pipeline(settings, embedder=FakeEmbedder())
    assert "gallium_deal" not in pipeline.index.documents
    library.add_files(settings, FakeEmbedder(), [incoming / "gallium deal.html"])
    assert "gallium_deal" in pipeline.index.documents
    hits = pipeline.retriever.search("How many tonnes of gallium will Chile ship to Norway?", 3)
    assert hits[0].chunk.doc_id == "gallium_deal"


def test_an_upload_during_the_warm_up_is_in_the_next_answers_context(settings, incoming):
    """The start-up warm builds a corpus context from the index it opened; an upload that
    replaces that index meanwhile (in another thread) must not leave that context in place."""

    class UploadRightAfterOpening(Pipeline):
        uploaded = False

        @property
        def index(self):
            opened = super().index
            if not self.uploaded:
                self.uploaded = True
                library.add_files(settings, self.embedder, [incoming / "gallium deal.html"])
                self.index_info()  # the page shows the new index, opening it
            return opened

    pipeline = UploadRightAfterOpening(
        settings, embedder=FakeEmbedder(), generator_factory=lambda name: FakeGenerator()
    )
    warmed = pipeline.context()
    assert "gallium_deal" not in [u.doc_id for u in warmed.units]
    assert "gallium_deal" in [u.doc_id for u in pipeline.context().units]


def test_articles_are_listed_newest_first(settings, incoming):
    library.add_files(settings, FakeEmbedder(), [incoming])
    index, _ = open_index(settings, FakeEmbedder(), progress=False)
    listed = library.articles(index.documents)
    dated = [d.published for d in listed if d.published]
    assert dated == sorted(dated, reverse=True) and listed[0].doc_id == "000_4c889cb198ed1fac"
    assert all(d.published is None for d in listed[len(dated) :])


def test_cli_add_and_remove(settings, incoming, seeds, monkeypatch, capsys):
    from rag import cli

    monkeypatch.setattr(Pipeline, "embedder", property(lambda self: FakeEmbedder()))
    flags = ["--corpus", str(seeds), "--index-dir", str(settings.index_dir)]
    assert cli.main(["add", str(incoming / "tin.pdf"), str(incoming / "notes.docx"), *flags]) == 0
    out = capsys.readouterr().out
    assert f"added {incoming / 'tin.pdf'} as {seeds / 'tin.pdf'}" in out
    assert f"skipped {incoming / 'notes.docx'}: unsupported format .docx" in out
    assert cli.main(["articles", *flags]) == 0
    assert "tin\t-\t-\tTin exports resume" in capsys.readouterr().out
    assert cli.main(["remove", "tin", *flags]) == 0
    assert "removed tin" in capsys.readouterr().out
    assert cli.main(["add", str(incoming / "scan.pdf"), *flags]) == 1
