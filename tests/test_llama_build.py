"""The llama.cpp build flags and the generator self-check.

The self-check runs the probe in a child process, so a crashing library becomes a
message: these tests point it at a deliberately broken ``llama_cpp`` package and at a
corrupt GGUF file, then at the real build and model.
"""

from __future__ import annotations

import os
import textwrap

import pytest

from rag import llama_build
from rag.selfcheck import REBUILD, check_generator, explain

AMX_VM = "processor : 0\nflags : fpu sse4_2 avx avx2 bmi2 fma f16c avx512f avx512_vnni amx_tile amx_int8\n"


def test_flags_name_each_instruction_set_and_never_amx():
    """A CPU advertising AVX-512 and AMX: AVX-512 on, AMX off, and never native."""
    args = llama_build.cmake_args(llama_build.cpu_flags(AMX_VM), "x86_64")
    assert args[0] == "-DGGML_NATIVE=OFF"
    on = {a for a in args if a.endswith("=ON")}
    assert on == {f"-D{o}=ON" for o in ("GGML_SSE42", "GGML_AVX", "GGML_AVX2", "GGML_BMI2", "GGML_FMA")} | {
        "-DGGML_F16C=ON",
        "-DGGML_AVX512=ON",
        "-DGGML_AVX512_VNNI=ON",
    }
    assert {"-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"} <= set(args)
    assert "-DGGML_AVX512_BF16=OFF" in args  # the CPU does not have it


def test_avx2_level_leaves_out_avx512_and_other_machines_stay_portable():
    args = llama_build.cmake_args(llama_build.cpu_flags(AMX_VM), "x86_64", level="avx2")
    assert "-DGGML_AVX2=ON" in args and "-DGGML_AVX512=OFF" in args
    assert llama_build.cmake_args({"neon"}, "aarch64") == ["-DGGML_NATIVE=OFF"]
    with pytest.raises(ValueError, match="unknown CPU level"):
        llama_build.cmake_args(set(), "x86_64", level="native")


def test_build_key_changes_with_the_flags_and_the_version():
    """pip's wheel cache is keyed by source only; ours must tell builds with other flags apart."""
    a = llama_build.cmake_args({"avx2"}, "x86_64")
    b = llama_build.cmake_args({"avx2", "avx512f"}, "x86_64")
    assert llama_build.key("0.3.36", a) != llama_build.key("0.3.36", b)
    assert llama_build.key("0.3.36", a) != llama_build.key("0.3.37", a)
    assert llama_build.key("0.3.36", a) == llama_build.key("0.3.36", list(a))


def test_pinned_version_is_read_from_pyproject(tmp_path):
    assert llama_build.pinned_version().count(".") == 2
    extras = tmp_path / "extras.toml"
    extras.write_text('[project]\ndependencies = ["llama-cpp-python[server]==0.3.9"]\n')
    assert llama_build.pinned_version(extras) == "0.3.9"
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\ndependencies = ["llama-cpp-python>=0.3"]\n')
    with pytest.raises(ValueError, match="does not pin"):
        llama_build.pinned_version(bad)


def fake_library(tmp_path, body: str) -> dict:
    """An environment whose ``llama_cpp`` is a stand-in package with ``Llama`` doing ``body``."""
    package = tmp_path / "lib" / "llama_cpp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os, signal\nclass Llama:\n    def __init__(self, **kw):\n"
        + textwrap.indent(textwrap.dedent(body), " " * 8)
    )
    return {**os.environ, "PYTHONPATH": str(tmp_path / "lib")}


def test_a_crashing_library_gives_a_message_saying_how_to_rebuild(tmp_path):
    """The stand-in dies with SIGSEGV, as the native build did on an AMX VM; the caller survives."""
    env = fake_library(tmp_path, "os.kill(os.getpid(), signal.SIGSEGV)")
    result = check_generator(tmp_path / "m.gguf", 2, env=env)
    assert not result.ok
    assert "crashed (SIGSEGV)" in result.message and REBUILD in result.message


def test_a_corrupt_model_gives_a_message_naming_the_file(tmp_path):
    """A GGUF header followed by garbage: the real library refuses it, the check says so."""
    model = tmp_path / "corrupt.gguf"
    model.write_bytes(b"GGUF" + os.urandom(4096))
    result = check_generator(model, 2)
    assert not result.ok
    assert "could not run on" in result.message and "corrupt.gguf" in result.message
    assert "rag models pull" in result.message


def test_a_missing_library_says_how_to_install(tmp_path):
    message = explain(1, "ModuleNotFoundError: No module named 'llama_cpp'", tmp_path / "m.gguf")
    assert "not installed" in message and "make test" in message


@pytest.mark.real
def test_the_installed_build_runs_the_real_model(real_settings):
    from rag.models import llm_path

    result = check_generator(llm_path(real_settings), real_settings.threads)
    assert result.ok, result.message
    assert result.message.startswith("generator runs")
