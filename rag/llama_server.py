"""llama-cpp-python's OpenAI-compatible server on a free loopback port, for tests and ``rag loadtest``.

It loads the same GGUF with the same threads, context and seed as the in-process
model, and serves it under the name ``settings.llm_model``. The server takes one
request at a time; ``--interrupt_requests False`` makes a new request wait instead
of cutting the running one off.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .serving import free_port

START_TIMEOUT_S = 300  # loading the 1.5B model takes about 10 s on two cores; a busy machine, more


@dataclass(frozen=True)
class RunningServer:
    url: str  # ends in /v1, as RAG_LLM_URL
    api_key: str  # the server requires it: a stray client on this machine gets 401
    log: Path


def command(settings: Settings, model: Path, port: int, api_key: str) -> list[str]:
    from .pipeline import context_size

    threads = str(settings.threads)
    return [
        *(sys.executable, "-m", "llama_cpp.server", "--model", str(model)),
        *("--model_alias", settings.llm_model, "--host", "127.0.0.1", "--port", str(port)),
        *("--n_threads", threads, "--n_threads_batch", threads, "--n_batch", "512"),
        *("--n_ctx", str(context_size(settings)), "--seed", str(settings.seed)),
        *(f"--api_key={api_key}", "--interrupt_requests", "False"),  # "=": a key may start with "-"
    ]


def _ready(url: str, api_key: str) -> bool:
    request = urllib.request.Request(f"{url}/models", headers={"Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def llama_server(settings: Settings, log: Path, timeout: float = START_TIMEOUT_S) -> Iterator[RunningServer]:
    """Start the server, wait until it answers, yield it; always stop it (and its children)."""
    from .models import llm_path

    port, api_key = free_port(), secrets.token_urlsafe(16)
    url = f"http://127.0.0.1:{port}/v1"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command(settings, llm_path(settings), port, api_key),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it reaches every child
        )
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url, api_key):
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with code {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {timeout:.0f} s:\n{_tail(log)}")
            time.sleep(0.5)
        yield RunningServer(url, api_key, log)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
