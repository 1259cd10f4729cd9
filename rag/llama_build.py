"""How llama-cpp-python is built here: for the CPU's instruction sets, chosen one by one.

llama.cpp's default build uses ``-march=native``, which on a CPU that advertises AMX
inside a virtual machine crashes on the first generation. So the build turns
``GGML_NATIVE`` off and names each instruction set the CPU has (AVX2, FMA, F16C,
AVX-512 …), never AMX. The wheel is built once per (version, flags) into
``~/.cache/rag-assistant/wheels/<key>/``: pip's own wheel cache is bypassed because
it is keyed by the source, not by the flags, and could hand back a native build.

    python -m rag.llama_build args              # the CMake flags for this CPU
    python -m rag.llama_build key               # what the install stamp depends on
    python -m rag.llama_build install --python .venv/bin/python [--rebuild] [--level avx2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = Path.home() / ".cache" / "rag-assistant" / "wheels"
# llama.cpp option -> the /proc/cpuinfo flag that must be present to turn it on
X86_OPTIONS = {
    "GGML_SSE42": "sse4_2",
    "GGML_AVX": "avx",
    "GGML_AVX2": "avx2",
    "GGML_BMI2": "bmi2",
    "GGML_FMA": "fma",
    "GGML_F16C": "f16c",
    "GGML_AVX_VNNI": "avx_vnni",
    "GGML_AVX512": "avx512f",
    "GGML_AVX512_VBMI": "avx512vbmi",
    "GGML_AVX512_VNNI": "avx512_vnni",
    "GGML_AVX512_BF16": "avx512_bf16",
}
AVX512 = {k for k in X86_OPTIONS if k.startswith("GGML_AVX512")}
NEVER = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")  # crash inside VMs that advertise AMX
LEVELS = ("auto", "avx2")  # auto: everything the CPU has; avx2: stop below AVX-512


def cpu_flags(cpuinfo: str) -> set[str]:
    """The flags of the first CPU in ``/proc/cpuinfo`` text: ``"flags : fpu avx2"`` -> ``{"fpu", "avx2"}``."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def cmake_args(flags: set[str], machine: str, level: str = "auto") -> list[str]:
    """CMake flags for a CPU with ``flags``; on x86-64 each instruction set is named ON or OFF.

    ``({"avx", "avx2", "fma", "amx_tile"}, "x86_64")`` -> AVX, AVX2 and FMA ON, every
    other set and all AMX OFF. Other machines get only ``GGML_NATIVE=OFF`` (llama.cpp's
    portable defaults for that architecture).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown CPU level {level!r}; choose from {', '.join(LEVELS)}")
    args = ["-DGGML_NATIVE=OFF"]
    if machine.lower() not in ("x86_64", "amd64"):
        return args
    for option, flag in X86_OPTIONS.items():
        on = flag in flags and not (level == "avx2" and option in AVX512)
        args.append(f"-D{option}={'ON' if on else 'OFF'}")
    return args + [f"-D{option}=OFF" for option in NEVER]


def pinned_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The ``llama-cpp-python==X`` pin of the project's dependencies."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    for dep in deps:
        name, _, version = dep.partition("==")
        if name.split("[")[0].strip() == "llama-cpp-python" and version:  # extras allowed
            return version.strip()
    raise ValueError(f"{pyproject} does not pin llama-cpp-python with '=='")


def key(version: str, args: list[str]) -> str:
    """Names one build: ``llama-cpp-python-0.3.36-<hash of the flags>``."""
    return f"llama-cpp-python-{version}-{hashlib.sha256(' '.join(args).encode()).hexdigest()[:12]}"


def this_machine(level: str = "auto") -> list[str]:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no flags known, so no x86 extension is turned on
        cpuinfo = ""
    return cmake_args(cpu_flags(cpuinfo), platform.machine(), level)


def ensure_wheel(python: str, version: str, args: list[str], rebuild: bool = False) -> Path:
    """The wheel for these flags, built first (about 6 minutes on 2 cores) when not cached."""
    folder = WHEELS / key(version, args)
    if rebuild:
        shutil.rmtree(folder, ignore_errors=True)
    found = sorted(folder.glob("llama_cpp_python-*.whl"))
    if found:
        return found[0]
    WHEELS.mkdir(parents=True, exist_ok=True)
    print(f"building llama-cpp-python {version} for this CPU (about 6 minutes): {' '.join(args)}")
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=WHEELS))
    try:
        cmd = [python, "-m", "pip", "wheel", "--no-cache-dir", "--no-deps", "-w", str(tmp)]
        env = {**os.environ, "CMAKE_ARGS": " ".join(args)}
        subprocess.run([*cmd, f"llama-cpp-python=={version}"], check=True, env=env)
        os.replace(tmp, folder)  # atomic: a half-built wheel never sits under the key
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(folder.glob("llama_cpp_python-*.whl"))[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.llama_build", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("args", "key", "install"))
    parser.add_argument("--level", choices=LEVELS, default="auto")
    parser.add_argument("--python", default=sys.executable, help="the venv's python to install into")
    parser.add_argument("--rebuild", action="store_true", help="build again even when a wheel is cached")
    args = parser.parse_args(argv)
    flags = this_machine(args.level)
    version = pinned_version()
    if args.action == "args":
        print(" ".join(flags))
    elif args.action == "key":
        print(key(version, flags))
    else:
        wheel = ensure_wheel(args.python, version, flags, args.rebuild)
        pip = [args.python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)]
        subprocess.run(pip, check=True)
        print(f"installed {wheel.name} ({key(version, flags)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
