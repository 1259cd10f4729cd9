"""Does the generator run here? Load it in a child process and generate a few tokens.

A llama.cpp build that does not suit the CPU dies with a signal (SIGSEGV, SIGILL) on
its first generation. In a child process that becomes a message saying how to
rebuild, instead of a bare crash minutes into a test run or a chat.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROBE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_threads=int(sys.argv[2]), n_ctx=256, verbose=False)
out = llm.create_completion("The capital of France is", max_tokens=4, temperature=0.0)
print(out["choices"][0]["text"])
"""
SPEED_PROBE = """
import json, sys, time
from llama_cpp import Llama
path, threads, n_prompt, n_decode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
llm = Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=2048, verbose=False)
text = "The committee met on Tuesday and reviewed the schedule for the coming quarter. " * 80
tokens = llm.tokenize(text.encode(), add_bos=False)[:n_prompt]
started, first = time.perf_counter(), None
for i, _ in enumerate(llm.generate(tokens, top_k=1, temp=0.0, reset=True), 1):
    first = first or time.perf_counter()
    if i > n_decode:
        break
ended = time.perf_counter()
print(json.dumps({"prompt_tps": len(tokens) / (first - started), "decode_tps": n_decode / (ended - first)}))
"""
REBUILD = "make rebuild-llama"
SAFER = "make rebuild-llama LLAMA_CPU=avx2"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    seconds: float


def explain(returncode: int, stderr: str, path: Path) -> str:
    """What a probe's exit means and what to do about it.

    ``(-11, "", p)`` -> a crash (SIGSEGV) of the llama.cpp build; ``(1, "...failed to load model...", p)``
    -> the model file cannot be loaded.
    """
    tail = "\n".join(stderr.strip().splitlines()[-5:])
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return (
            f"The generator crashed ({name}) on its first tokens: the llama-cpp-python build does not "
            f"run on this CPU. Rebuild it for this CPU with `{REBUILD}`; if that still crashes, "
            f"`{SAFER}` leaves out AVX-512."
        )
    if "No module named" in stderr and "llama_cpp" in stderr:
        return f"llama-cpp-python is not installed: run `make test` or `make run` to install it.\n{tail}"
    return (
        f"The generator could not run on {path} (exit code {returncode}). If the model file is "
        f"damaged, `rag models list --full` finds it and `rag models pull` replaces it; if the "
        f"library is broken, `{REBUILD}`.\n{tail}"
    )


def check_generator(
    path: Path, threads: int, *, python: str = sys.executable, env: dict | None = None, timeout: float = 300
) -> CheckResult:
    """Load the GGUF at ``path`` in a child ``python`` and generate four tokens."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [python, "-c", PROBE, str(path), str(threads)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        seconds = time.perf_counter() - started
        return CheckResult(False, f"The generator gave no tokens within {timeout:.0f} s.", seconds)
    seconds = time.perf_counter() - started
    if done.returncode == 0:
        return CheckResult(True, f"generator runs: {Path(path).name} gave {done.stdout.strip()!r}", seconds)
    return CheckResult(False, explain(done.returncode, done.stderr, Path(path)), seconds)


def build_speed(
    python: str, path: Path, threads: int, prompt_tokens: int = 512, decode_tokens: int = 64
) -> dict:
    """Raw llama-cpp-python speed of the build behind ``python``: prompt and decode tokens/s, or
    ``{"error": ...}`` saying how it failed (a crash included)."""
    args = [python, "-c", SPEED_PROBE, str(path), str(threads), str(prompt_tokens), str(decode_tokens)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return {"error": "no result within 600 s"}
    if done.returncode != 0:
        return {"error": explain(done.returncode, done.stderr, Path(path)).split(":")[0]}
    return json.loads(done.stdout.strip().splitlines()[-1])
