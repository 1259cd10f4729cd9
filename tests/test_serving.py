"""The gate that orders answers, and running a blocking iterator for the event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from rag.config import Settings
from rag.serving import Gate, Waiting, gate_for, iterate_in_thread, queued


def test_gate_admits_up_to_its_limit_and_numbers_the_rest_in_arrival_order():
    gate = Gate(2)
    tickets = [gate.join() for _ in range(5)]
    assert [gate.place(t) for t in tickets] == [0, 0, 1, 2, 3]
    gate.leave(tickets[0])
    assert [gate.place(t) for t in tickets[1:]] == [0, 0, 1, 2]
    assert gate.load() == {"running": 2, "waiting": 2, "limit": 2}


def test_leaving_the_line_moves_those_behind_up_without_taking_a_turn():
    """A client that hangs up while waiting gives up its place; nobody is admitted for it."""
    gate = Gate(1)
    first, second, third = gate.join(), gate.join(), gate.join()
    gate.leave(second)
    assert (gate.place(first), gate.place(third)) == (0, 1)
    assert gate.load()["running"] == 1


def test_in_process_answers_go_one_at_a_time_and_server_answers_up_to_max_parallel():
    assert gate_for(Settings(max_parallel=6)).limit == 1
    assert gate_for(Settings(max_parallel=6, llm_url="http://127.0.0.1:9/v1")).limit == 6
    with pytest.raises(ValueError, match="at least one"):
        Gate(0)


def test_queued_reports_places_until_its_turn_then_runs_and_frees_the_turn():
    gate = Gate(1)
    holder = gate.join()
    items = queued(gate, lambda: iter(["answer"]))
    first = next(items)
    assert isinstance(first, Waiting) and first.place == 1
    threading.Timer(0.2, gate.leave, [holder]).start()
    rest = list(items)
    assert [type(i) for i in rest[:-1]] == [Waiting] * (len(rest) - 1)
    assert rest[-2].place == 0 and rest[-2].waited_s >= 0.2
    assert rest[-1] == "answer"
    assert gate.load() == {"running": 0, "waiting": 0, "limit": 1}


def test_closing_a_queued_answer_midway_gives_its_turn_to_the_next():
    gate = Gate(1)
    items = queued(gate, lambda: iter(["a", "b"]))
    assert next(items).place == 0 and next(items) == "a"
    other = gate.join()
    assert gate.place(other) == 1
    items.close()
    assert gate.place(other) == 0


def test_iterate_in_thread_runs_the_iterator_off_the_event_loop_and_passes_errors_on():
    loop_thread = threading.get_ident()
    seen = []

    def work():
        seen.append(threading.get_ident())
        yield 1
        raise ValueError("bad question")

    async def consume():
        got = []
        with pytest.raises(ValueError, match="bad question"):
            async for item in iterate_in_thread(work()):
                got.append(item)
        return got

    assert asyncio.run(consume()) == [1]
    assert seen and seen[0] != loop_thread


def test_a_consumer_that_stops_early_closes_the_iterator_in_its_thread():
    """A client that hangs up must not leave its answer running or its turn taken."""
    closed = threading.Event()

    def endless():
        try:
            while True:
                time.sleep(0.01)
                yield "piece"
        finally:
            closed.set()

    async def take_two():
        got = []
        async for item in iterate_in_thread(endless()):
            got.append(item)
            if len(got) == 2:
                break
        return got

    assert asyncio.run(take_two()) == ["piece", "piece"]
    assert closed.wait(5)


def test_iterate_in_thread_yields_none_while_the_iterator_is_quiet():
    def slow():
        time.sleep(0.3)
        yield "late"

    async def consume():
        return [item async for item in iterate_in_thread(slow(), idle=0.1)]

    got = asyncio.run(consume())
    assert got[-1] == "late" and got[0] is None
