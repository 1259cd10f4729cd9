"""The chat page and the HTTP API in one process: ``build_app(settings, pipeline)`` wires gradio
components to the pipeline, and ``serve_app`` mounts the page on the API of ``rag.api``.

Run it with ``python app.py`` (``make run``); host and port come from
``Settings`` (``RAG_HOST``, ``RAG_PORT``). All HTML comes from ``rag.render``.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from rag import library, render
from rag.api import available_models, create_app
from rag.config import Settings, offline_env
from rag.models import ModelError
from rag.schema import Answer
from rag.serving import Gate, Waiting, queued

log = logging.getLogger("rag.app")

EXAMPLES = (
    "What did China commit to under the agreement?",
    "How long are the rare earth export licences valid?",
    "Which carmaker had to halt production because of the rare earth shortage?",
)
EMPTY_HINT = "Type a question about the articles first, or pick one of the examples below."
PIPELINE_QUEUE = "pipeline"  # every event that runs the model shares this queue

# What one step of an answer sets: question box, chat, plain-text history, status line.
Update = tuple[str, list, list, str]


def respond(
    pipeline,
    message: str,
    chat: list | None,
    turns: list | None,
    model=None,
    k=None,
    gate: Gate | None = None,
) -> Iterator[Update]:
    """Answer ``message`` and stream the chat as it grows.

    ``chat`` is what the Chatbot shows (rendered HTML); ``turns`` is the same
    conversation as plain ``{"role", "content"}`` messages, which is what the
    pipeline gets as ``history`` for follow-up questions. With a ``gate`` (shared
    with the API) the question first waits for its turn, showing its place in line.
    Errors end up as a readable message in the chat, never as an exception.
    """
    chat, turns = list(chat or []), list(turns or [])
    question = (message or "").strip()
    if not question:
        yield message or "", [*chat, _assistant(render.notice_html(EMPTY_HINT, "hint"))], turns, ""
        return

    chat.append({"role": "user", "content": render.question_html(question)})
    yield "", [*chat, _assistant(render.streaming_html(""))], turns, "searching the articles…"

    pieces: list[str] = []
    answer: Answer | None = None

    def start():
        return pipeline.ask_stream(question, history=turns, model=model or None, k=_int_or_none(k))

    try:
        for item in start() if gate is None else queued(gate, start):
            if isinstance(item, Waiting):
                if item.place:
                    status = f"waiting: number {item.place} in line…"
                    yield "", [*chat, _assistant(render.streaming_html(""))], turns, status
                continue
            if isinstance(item, Answer):
                answer = item
                break
            pieces.append(item)
            yield (
                "",
                [*chat, _assistant(render.streaming_html("".join(pieces)))],
                turns,
                "writing the answer…",
            )
    except ModelError as exc:  # says how to provision the model
        yield message, [*chat, _assistant(render.notice_html(str(exc), "error"))], turns, "model unavailable"
        return
    except ValueError as exc:  # the pipeline's verdict on the question itself: too long, empty, ...
        text = f"I can't answer that question: {exc}"
        yield message, [*chat, _assistant(render.notice_html(text, "error"))], turns, "question not accepted"
        return
    except Exception as exc:
        log.exception("answering %r failed", question[:200])
        text = (
            f"Sorry, something went wrong while answering ({type(exc).__name__}). "
            "The details are in the server log; please try again."
        )
        yield "", [*chat, _assistant(render.notice_html(text, "error"))], turns, "failed"
        return

    if answer is None:
        log.error("ask_stream ended without an Answer for %r", question[:200])
        text = "Sorry, the answer was cut off before it was finished. Please try again."
        yield "", [*chat, _assistant(render.notice_html(text, "error"))], turns, "failed"
        return

    chat.append(_assistant(render.answer_html(answer, pipeline.document)))
    turns += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
    yield "", chat, turns, render.status_line(answer)


def _assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


LIBRARY_TURN = threading.Lock()  # a listing is never computed in the middle of a change


def library_view(pipeline) -> tuple[str, gr.Dropdown, str]:
    """The article table, the remove menu and the header line, as the index now stands. It
    waits for an upload or a removal under way, so the page never shows a listing from before
    a change after the change's own."""
    with LIBRARY_TURN:
        return _library_view(pipeline)


def _library_view(pipeline) -> tuple[str, gr.Dropdown, str]:
    try:
        index = pipeline.index  # once: the listing and the header describe the same generation
        docs = library.articles(index.documents)
    except Exception:
        log.exception("could not list the articles")
        return render.notice_html("The article list is unavailable.", "error"), gr.Dropdown(), ""
    menu = gr.Dropdown(choices=[(render.article_label(d), d.doc_id) for d in docs], value=None)
    try:
        header = render.index_state(pipeline.index_info(index))
    except Exception:
        log.exception("could not read the index state")
        header = "index state unavailable"
    return render.articles_html(docs), menu, header


def add_articles(pipeline, files: list[str] | None, progress=None) -> tuple:
    """Add uploaded files to the corpus and index them; the note says what was added and skipped."""
    with LIBRARY_TURN:
        return _add_articles(pipeline, files, progress)


def _add_articles(pipeline, files: list[str] | None, progress) -> tuple:
    report = progress or (lambda fraction, desc: None)
    try:
        change = library.add_files(
            pipeline.settings, pipeline.embedder, files or [], progress=lambda f, m: report(f, desc=m)
        )
    except Exception as exc:
        log.exception("adding %s failed", files)
        return (
            None,
            render.notice_html(f"Adding the files failed ({type(exc).__name__}: {exc}).", "error"),
            *_library_view(pipeline),
        )
    names = [Path(a.stored).name for a in change.added]
    skipped = [(Path(s.path).name, s.reason) for s in change.skipped]
    return None, render.change_html(names, [], skipped), *_library_view(pipeline)


def remove_article(pipeline, doc_id: str | None) -> tuple:
    """Remove the chosen article (its file goes to the corpus's trash) and update the index."""
    with LIBRARY_TURN:
        return _remove_article(pipeline, doc_id)


def _remove_article(pipeline, doc_id: str | None) -> tuple:
    if not doc_id:
        return render.notice_html("Choose an article to remove first.", "hint"), *_library_view(pipeline)
    try:
        library.remove_article(pipeline.settings, pipeline.embedder, doc_id)
    except ValueError as exc:
        return render.notice_html(str(exc), "error"), *_library_view(pipeline)
    return render.change_html([], [doc_id], []), *_library_view(pipeline)


def build_app(settings: Settings, pipeline, gate: Gate | None = None) -> gr.Blocks:
    """The chat page for ``pipeline``; answers take turns through ``gate`` (one at a time without one)."""
    models = available_models(settings, pipeline)

    with gr.Blocks(title="Ask the articles", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Ask the articles\nAnswers quote the indexed articles; open a citation to read its source."
        )
        header = gr.Markdown("loading the index…", elem_id="rag-index")  # filled on page load
        chatbot = gr.Chatbot(
            elem_id="rag-chat",
            height=560,
            show_label=False,
            latex_delimiters=[],  # article text with "$$" must stay text
            buttons=[],  # "copy" would copy the rendered HTML
            feedback_options=None,
            placeholder="Ask a question about the indexed articles.",
        )
        turns = gr.State([])
        with gr.Row():
            question = gr.Textbox(
                elem_id="rag-question",
                show_label=False,
                placeholder="Ask a question…",
                lines=1,
                max_lines=6,
                scale=8,
                autofocus=True,
            )
            ask = gr.Button("Ask", variant="primary", elem_id="rag-ask", scale=1, min_width=80)
        status = gr.Markdown("", elem_id="rag-status")
        with gr.Row():
            example_buttons = [gr.Button(q, size="sm", elem_classes="rag-example") for q in EXAMPLES]
        with gr.Accordion("Settings", open=False):
            model = gr.Dropdown(models, value=settings.llm_model, label="Model", elem_id="rag-model")
            top_k = gr.Slider(
                1, max(30, settings.top_k), value=settings.top_k, step=1, label="Passages retrieved (top-k)"
            )
            new_chat = gr.Button("New conversation", size="sm")
        with gr.Accordion("Articles", open=False, elem_id="rag-library"):
            upload = gr.File(
                label="Add articles: drop .txt, .md, .html, .htm or .pdf files",
                file_count="multiple",
                elem_id="rag-upload",
            )
            note = gr.HTML("", elem_id="rag-library-note")
            listing = gr.HTML("", elem_id="rag-articles")  # filled on page load
            with gr.Row():
                choice = gr.Dropdown([], label="Article to remove", elem_id="rag-remove-choice", scale=4)
                remove = gr.Button("Remove", variant="stop", elem_id="rag-remove", scale=1, min_width=80)

        def answer(message, chat, history, model_name, k):
            yield from respond(pipeline, message, chat, history, model_name, k, gate)

        run = {
            "fn": answer,
            "inputs": [question, chatbot, turns, model, top_k],
            "outputs": [question, chatbot, turns, status],
            "concurrency_limit": gate.limit if gate else 1,  # in-process, the model is not re-entrant
            "concurrency_id": PIPELINE_QUEUE,
        }
        question.submit(**run, api_name="ask")
        ask.click(**run, api_visibility="undocumented")
        for button in example_buttons:
            button.click(
                lambda q=button.value: q, outputs=question, queue=False, api_visibility="private"
            ).then(**run, api_visibility="undocumented")

        def add(files, progress=gr.Progress()):  # noqa: B008 - gradio finds the progress bar by this default
            return add_articles(pipeline, files, progress)

        def drop(doc_id):
            return remove_article(pipeline, doc_id)

        index_writes = {"concurrency_limit": 1, "concurrency_id": PIPELINE_QUEUE, "api_visibility": "private"}
        upload.upload(add, inputs=upload, outputs=[upload, note, listing, choice, header], **index_writes)
        remove.click(drop, inputs=choice, outputs=[note, listing, choice, header], **index_writes)
        demo.load(lambda: library_view(pipeline), outputs=[listing, choice, header], api_visibility="private")
        for trigger in (new_chat.click, chatbot.clear):
            trigger(
                lambda: ([], [], ""), outputs=[chatbot, turns, status], queue=False, api_visibility="private"
            )
    return demo


def serve_app(settings: Settings, pipeline):
    """The API with the chat page mounted at ``/``, as one ASGI app (the page and API share one gate)."""
    api = create_app(settings, pipeline)  # refuses a non-loopback host without RAG_API_KEY
    demo = build_app(settings, pipeline, api.state.gate).queue(default_concurrency_limit=api.state.gate.limit)

    def login(_user: str, password: str) -> bool:  # the page asks for the key too, as the password
        return hmac.compare_digest(password.encode(), settings.api_key.encode())

    return gr.mount_gradio_app(
        api,
        demo,
        path="/",
        auth=login if settings.api_key else None,
        ssr_mode=False,
        css=render.PAGE_CSS,
        head=render.PAGE_HEAD,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    offline_env()
    settings = Settings.from_env()
    import uvicorn

    from rag.pipeline import Pipeline  # the models and the index load on first use

    pipeline = Pipeline(settings, progress=True)
    try:
        app = serve_app(settings, pipeline)
    except ValueError as e:  # e.g. a non-loopback host without RAG_API_KEY
        raise SystemExit(f"error: {e}") from None
    threading.Thread(target=_warm, args=(pipeline,), daemon=True).start()
    uvicorn.run(app, host=settings.host, port=settings.port)


def _warm(pipeline) -> None:
    """Load the models and read (or load) the articles while the page comes up."""
    try:
        pipeline.warm()
    except Exception:
        log.exception("could not prepare the pipeline; the first question will say why")


if __name__ == "__main__":
    main()
