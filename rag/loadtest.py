"""Load test over loopback: concurrent clients ask gold questions of the API; throughput and latency.

``rag loadtest`` starts llama.cpp's server on a free loopback port (unless
``RAG_LLM_URL`` names a model server), serves the app on another, and runs the
clients as threads posting ``/v1/ask``. Client ``i`` asks questions ``i``,
``i + clients``, … of the gold file, so clients asking at the same moment ask
different questions. A reply is right when it answers the question its client
asked, abstains exactly when the gold says the articles cannot answer, and cites
one of the question's gold sources.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .config import Settings


def plan(gold: list[dict], clients: int, per_client: int) -> list[list[dict]]:
    """Each client's questions: ``plan(g, 2, 2)`` -> ``[[g[0], g[2]], [g[1], g[3]]]`` (wrapping around)."""
    return [[gold[(i + j * clients) % len(gold)] for j in range(per_client)] for i in range(clients)]


def verdict(item: dict, status: int, body: dict) -> str:
    """Why a reply is wrong for gold ``item``; "" when it is right."""
    if status != 200:
        return f"HTTP {status}: {body.get('error', {}).get('message', body)}"
    if body.get("question") != item["question"]:
        return f"answered another question: {body.get('question')!r}"
    if body["abstained"] == item["answerable"]:
        return "abstained" if body["abstained"] else "answered a question the articles cannot answer"
    cited = {c["doc_id"] for c in body["citations"]}
    if item["answerable"] and not cited & set(item["sources"]):
        return f"cites none of its gold sources: {sorted(cited)}"
    return ""


def run(url: str, gold: list[dict], clients: int, per_client: int, api_key: str | None = None) -> dict:
    """Every client starts at once and asks its questions one after another."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    start = threading.Barrier(clients)

    def client(n: int, items: list[dict]) -> list[dict]:
        out = []
        with httpx.Client(base_url=url, headers=headers, timeout=1800) as http:
            start.wait()
            for item in items:
                began = time.perf_counter()
                try:
                    r = http.post("/v1/ask", json={"question": item["question"]})
                    status, body = r.status_code, r.json()
                except (httpx.HTTPError, ValueError) as e:
                    status, body = 0, {"error": {"message": f"{type(e).__name__}: {e}"}}
                seconds = time.perf_counter() - began
                out.append(
                    {
                        "client": n,
                        "id": item["id"],
                        "seconds": seconds,
                        "status": status,
                        "wrong": verdict(item, status, body),
                        "queue_s": body.get("timings", {}).get("queue_ms", 0) / 1000,
                        "answer": body.get("text", ""),
                    }
                )
        return out

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for rs in pool.map(client, range(clients), plan(gold, clients, per_client)) for r in rs]
    wall = time.perf_counter() - began
    latencies = np.array([r["seconds"] for r in results])
    return {
        "clients": clients,
        "questions_per_client": per_client,
        "requests": len(results),
        "failed": sum(r["status"] != 200 for r in results),
        "wrong": sum(bool(r["wrong"]) for r in results),
        "wall_s": wall,
        "throughput_per_min": len(results) / wall * 60,
        "latency_p50_s": float(np.percentile(latencies, 50)),
        "latency_p95_s": float(np.percentile(latencies, 95)),
        "latency_max_s": float(latencies.max()),
        "results": results,
    }


def format_report(summary: dict) -> str:
    lines = [
        f"{summary['clients']} clients x {summary['questions_per_client']} questions = "
        f"{summary['requests']} requests in {summary['wall_s']:.1f} s",
        f"throughput: {summary['throughput_per_min']:.2f} answers/min",
        f"latency: p50 {summary['latency_p50_s']:.1f} s  p95 {summary['latency_p95_s']:.1f} s  "
        f"max {summary['latency_max_s']:.1f} s",
        f"failed: {summary['failed']}  wrong: {summary['wrong']}",
    ]
    lines += [f"  client {r['client']} {r['id']}: {r['wrong']}" for r in summary["results"] if r["wrong"]]
    return "\n".join(lines)


def against_model_server(settings: Settings, gold: list[dict], clients: int, per_client: int) -> dict:
    """The whole setup on loopback: model server (started unless configured), app, clients."""
    from .api import create_app
    from .llama_server import llama_server
    from .pipeline import Pipeline
    from .serving import serve_in_thread

    with contextlib.ExitStack() as stack:
        if not settings.llm_url:
            log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "llama-server.log"
            server = stack.enter_context(llama_server(settings, log))
            settings = settings.with_(llm_url=server.url, llm_api_key=server.api_key)
        settings = settings.with_(host="127.0.0.1")
        pipeline = Pipeline(settings, progress=True)
        pipeline.index_info()  # build or load the index before the clock starts
        url = stack.enter_context(serve_in_thread(create_app(settings, pipeline)))
        summary = run(url, gold, clients, per_client, settings.api_key)
    summary["max_parallel"] = settings.max_parallel
    return summary
