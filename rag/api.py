"""The HTTP API: ``create_app(settings, pipeline)`` returns a FastAPI app; ``app.py`` mounts the page on it.

    POST /v1/ask                  {question, history?, k?} -> the Answer as JSON
    POST /v1/ask?stream=true      server-sent events: queue, text…, then answer (or error)
    GET  /v1/search?q=…&k=…       ranked hits, relevance verdict and selected evidence
    GET  /v1/documents[/{id}]     the indexed articles
    GET  /v1/models               the generator names, as OpenAI clients expect
    POST /v1/chat/completions     OpenAI-compatible; the reply carries ``citations``
    GET  /healthz                 ok / building / error, and the queue

Errors are ``{"error": {"message", "type"}}``: 400 bad input, 401 missing or wrong
key, 404 unknown, 503 while the index builds or when the model is unavailable.
With ``RAG_API_KEY`` set every ``/v1/`` request needs ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import Depends, FastAPI, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from .config import Settings
from .models import ModelError
from .pipeline import check_question
from .schema import Answer
from .serving import Gate, Waiting, gate_for, iterate_in_thread, queued

MAX_K = 50
MAX_TURNS = 50
MAX_TURN_CHARS = 20_000
KEEPALIVE_S = 15.0  # an SSE comment after this long without an event keeps proxies from hanging up
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse to serve beyond this machine without a key."""
    if not settings.api_key and not is_loopback(settings.host):
        raise ValueError(
            f"Refusing to serve on {settings.host} without an API key: anyone who can reach it could use "
            "the model. Set RAG_API_KEY (clients then send 'Authorization: Bearer <key>'), or bind to "
            "127.0.0.1."
        )


def available_models(settings: Settings, pipeline) -> list[str]:
    """The configured model first; in-process, also every catalogue model on disk."""
    names = [settings.llm_model]
    if not settings.llm_url:
        names += [m for m in pipeline.models() if m != settings.llm_model]
    return names


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    history: list[Turn] = Field(default_factory=list, max_length=MAX_TURNS)
    k: int | None = Field(default=None, ge=1, le=MAX_K)


class ChatMessage(BaseModel):
    role: str
    content: str | list[dict] | None = None  # text, or OpenAI content parts


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p…: ignored, answers are always greedy
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_TURNS)
    stream: bool = False


class Warmup:
    """Loads (or builds) the index in the background; until then requests get 503."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.ready = threading.Event()
        self.error: str | None = None

    def start(self) -> None:
        threading.Thread(target=self._run, name="rag-warmup", daemon=True).start()

    def _run(self) -> None:
        try:
            self.pipeline.index_info()
        except Exception as e:
            log.exception("loading the index failed")
            self.error = f"{type(e).__name__}: {e}"
        else:
            self.ready.set()

    def status(self) -> str:
        return "ok" if self.ready.is_set() else "error" if self.error else "building"

    def check(self) -> None:
        if self.error:
            raise ApiError(503, f"The index could not be loaded: {self.error}", "index_unavailable")
        if not self.ready.is_set():
            message = "The index is being built; try again in a few seconds."
            raise ApiError(503, message, "index_building", {"Retry-After": "5"})


def _as_api_error(e: Exception) -> ApiError:
    if isinstance(e, ApiError):
        return e
    if isinstance(e, ValueError):  # the pipeline's verdict on the question
        return ApiError(400, str(e), "invalid_request_error")
    if isinstance(e, ModelError):  # says how to provision the model or reach the server
        return ApiError(503, str(e), "model_unavailable")
    log.error("answering failed", exc_info=e)
    return ApiError(
        500, f"Answering failed ({type(e).__name__}); the details are in the server log.", "server_error"
    )


def _question(text: str) -> str:
    try:
        return check_question(text)
    except ValueError as e:
        raise ApiError(400, str(e), "invalid_request_error") from None


def _sse(event: str | None, data) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _answer(items: Iterator) -> Answer:
    """The final Answer of a queued ask, its wait in line recorded in ``timings["queue_ms"]``."""
    waited = 0.0
    try:
        async for item in iterate_in_thread(items):
            if isinstance(item, Waiting):
                waited = item.waited_s
            elif isinstance(item, Answer):
                item.timings["queue_ms"] = waited * 1000
                return item
    except Exception as e:
        raise _as_api_error(e) from None
    raise ApiError(500, "The answer was cut off before it was finished.", "server_error")


async def _ask_events(items: Iterator) -> AsyncIterator[bytes]:
    """``queue`` {place} while waiting, ``text`` {text} pieces, then ``answer`` (or ``error``)."""
    place, waited = 0, 0.0
    try:
        async for item in iterate_in_thread(items, KEEPALIVE_S):
            if item is None:
                yield b": keep-alive\n\n"
            elif isinstance(item, Waiting):
                if item.place != place:
                    yield _sse("queue", {"place": item.place})
                place, waited = item.place, item.waited_s
            elif isinstance(item, Answer):
                item.timings["queue_ms"] = waited * 1000
                yield _sse("answer", item.to_dict())
                return
            else:
                yield _sse("text", {"text": item})
        raise ApiError(500, "The answer was cut off before it was finished.", "server_error")
    except Exception as e:
        yield _sse("error", _as_api_error(e).body())


def _chat_input(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """The last user message is the question; earlier user and assistant turns are the history."""

    def text(m: ChatMessage) -> str:
        if isinstance(m.content, list):
            return " ".join(p.get("text", "") for p in m.content if p.get("type") == "text")
        return m.content or ""

    *earlier, last = messages
    if last.role != "user":
        raise ApiError(400, "The last message must be the user's question.", "invalid_request_error")
    history = [{"role": m.role, "content": text(m)} for m in earlier if m.role in ("user", "assistant")]
    return _question(text(last)), history


def _completion(answer: Answer, cid: str, created: int, model: str) -> dict:
    usage = {k: int(answer.timings.get(k, 0)) for k in ("prompt_tokens", "completion_tokens")}
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}
        ],
        "usage": {**usage, "total_tokens": sum(usage.values())},
        "citations": answer.to_dict()["citations"],
        "abstained": answer.abstained,
    }


async def _chat_events(items: Iterator, cid: str, created: int, model: str) -> AsyncIterator[bytes]:
    """OpenAI chunks. The text comes once its citations are checked, so its [n] match ``citations``."""

    def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
        return _sse(None, {**head, "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for item in iterate_in_thread(items, KEEPALIVE_S):
            if item is None:
                yield b": keep-alive\n\n"
            elif isinstance(item, Waiting) and item.place:
                yield f": waiting, place {item.place} in line\n\n".encode()
            elif isinstance(item, Answer):
                done = _completion(item, cid, created, model)
                yield chunk({"content": item.text})
                yield chunk(
                    {}, "stop", usage=done["usage"], citations=done["citations"], abstained=item.abstained
                )
                break
        else:
            raise ApiError(500, "The answer was cut off before it was finished.", "server_error")
    except Exception as e:
        yield _sse(None, _as_api_error(e).body())
    yield b"data: [DONE]\n\n"


class BearerAuth:
    """ASGI middleware: every ``/v1/`` request must carry ``Authorization: Bearer <key>``."""

    def __init__(self, app, key: str):
        self.app, self.key = app, key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/v1/") and not self._ok(scope):
            error = ApiError(
                401,
                "Missing or wrong API key: send 'Authorization: Bearer <key>' with the server's RAG_API_KEY.",
                "authentication_error",
                {"WWW-Authenticate": "Bearer"},
            )
            await error.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _ok(self, scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)


def create_app(settings: Settings, pipeline, gate: Gate | None = None) -> FastAPI:
    """The API over ``pipeline``; ``gate`` (shared with the chat page) orders the answers."""
    check_exposure(settings)
    gate = gate or gate_for(settings)
    warmup = Warmup(pipeline)

    @asynccontextmanager
    async def lifespan(_app):
        warmup.start()
        yield

    app = FastAPI(
        title="rag-assistant",
        lifespan=lifespan,
        docs_url=None,  # Swagger's page loads scripts from the internet; the schema is enough
        redoc_url=None,
        openapi_url="/v1/openapi.json",
    )
    app.state.gate, app.state.warmup = gate, warmup
    if settings.api_key:
        app.add_middleware(BearerAuth, key=settings.api_key)

    @app.exception_handler(ApiError)
    async def api_error(_request, e: ApiError):
        return e.response()

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request, e: RequestValidationError):
        problems = [
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in e.errors()
        ]
        return ApiError(400, "Bad request: " + "; ".join(problems[:5]), "invalid_request_error").response()

    @app.exception_handler(HTTPException)
    async def http_error(_request, e: HTTPException):
        return ApiError(e.status_code, str(e.detail), "invalid_request_error", e.headers).response()

    ready = Depends(warmup.check)

    @app.get("/healthz")
    def healthz():
        body = {
            "status": warmup.status(),
            "backend": "server" if settings.llm_url else "in-process",
            "model": settings.llm_model,
            "queue": gate.load(),
        }
        return JSONResponse(body, status_code=200 if warmup.ready.is_set() else 503)

    @app.post("/v1/ask", dependencies=[ready])
    async def ask(body: AskRequest, stream: bool = False):
        question = _question(body.question)
        history = [t.model_dump() for t in body.history]
        items = queued(gate, lambda: pipeline.ask_stream(question, history=history, k=body.k))
        if stream:
            return StreamingResponse(_ask_events(items), media_type="text/event-stream", headers=SSE_HEADERS)
        return (await _answer(items)).to_dict()

    @app.get("/v1/search", dependencies=[ready])
    def search(q: str, k: int = Query(default=settings.top_k, ge=1, le=MAX_K)):
        retrieval = pipeline.retriever.retrieve(_question(q), k, settings.evidence_tokens)
        documents = pipeline.index.documents
        return {
            "query": retrieval.question,
            "relevant": retrieval.relevant,
            "why": retrieval.why,
            "hits": [
                {
                    "rank": rank,
                    "score": h.score,
                    "chunk_id": h.chunk.chunk_id,
                    "text": h.chunk.text,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    **_document(documents[h.chunk.doc_id]),
                }
                for rank, h in enumerate(retrieval.hits, 1)
            ],
            "evidence": [
                {"n": e.n, "doc_id": e.doc_id, "text": e.text, "start": e.start, "end": e.end}
                for e in retrieval.evidence
            ],
        }

    @app.get("/v1/documents", dependencies=[ready])
    def documents():
        index = pipeline.index  # once: the list and its summary describe the same generation
        return {
            "index": pipeline.index_info(index),
            "documents": [_document(d) for d in index.documents.values()],
        }

    @app.get("/v1/documents/{doc_id}", dependencies=[ready])
    def document(doc_id: str):
        doc = pipeline.index.documents.get(doc_id)
        if doc is None:
            raise ApiError(404, f"No indexed document {doc_id!r}; GET /v1/documents lists them.", "not_found")
        return {**_document(doc), "text": doc.text}

    @app.get("/v1/models")
    def models():
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "owned_by": "rag-assistant"}
                for m in available_models(settings, pipeline)
            ],
        }

    @app.post("/v1/chat/completions", dependencies=[ready])
    async def chat(body: ChatRequest):
        names = available_models(settings, pipeline)
        model = body.model or settings.llm_model
        if model not in names:
            raise ApiError(
                404, f"No model {model!r}; this server has: {', '.join(names)}.", "model_not_found"
            )
        question, history = _chat_input(body.messages)
        items = queued(gate, lambda: pipeline.ask_stream(question, history=history, model=model))
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            events = _chat_events(items, cid, created, model)
            return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
        return _completion(await _answer(items), cid, created, model)

    @app.api_route(
        "/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    def unknown(path: str):
        raise ApiError(404, f"No endpoint /v1/{path}; /v1/openapi.json lists them.", "not_found")

    return app


def _document(doc) -> dict:
    published = doc.published.isoformat() if doc.published else None
    return {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "outlet": doc.outlet,
        "published": published,
        "chars": len(doc.text),
    }
