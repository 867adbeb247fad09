"""Ctrl-C in a run: the first press stops between graph steps, a second at once, and a press that a
C library's callback swallows (ctypes prints and drops exceptions raised in callbacks) is not lost."""

from __future__ import annotations

import ctypes
import signal
import sys
from typing import TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from tunegraph.cli.ctrl_c import CtrlC

COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))


def press_inside_a_c_callback() -> None:
    """What XGBoost's data iterator does: C calls back into Python, and Ctrl-C lands in there."""
    def compare(a, b):
        signal.raise_signal(signal.SIGINT)
        return a[0] - b[0]

    values = (ctypes.c_int * 2)(2, 1)
    ctypes.CDLL(None).qsort(values, 2, ctypes.sizeof(ctypes.c_int), COMPARE(compare))


@pytest.fixture(autouse=True)
def ctrl_c_as_at_a_terminal():
    """A background job (CI may run us so) has SIGINT ignored: give it Python's default."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class Steps(TypedDict, total=False):
    done: list[str]


def graph_pressing_in(step: str, press):
    def node(name):
        def run(state: Steps) -> Steps:
            if name == step:
                press()
            return {"done": [*state.get("done", []), name]}
        return run

    builder = StateGraph(Steps)
    for name in ("a", "b", "c"):
        builder.add_node(name, node(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder.compile()


def drive(graph, ctrl_c: CtrlC) -> list[str]:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        for update in graph.stream({}, stream_mode="updates"):
            ctrl_c.check()
            for values in update.values():
                done = values["done"]
    return done


def test_first_press_finishes_the_step_then_stops():
    said = []
    with CtrlC(lambda: said.append("stopping")) as ctrl_c:
        done = drive(graph_pressing_in("b", lambda: signal.raise_signal(signal.SIGINT)), ctrl_c)
    assert said == ["stopping"] and ctrl_c.pressed == 1
    assert done == ["a"]  # b finished (its update was streamed, then check() stopped); c never ran


def test_second_press_stops_at_once():
    def press_twice():
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("not reached: the second press raises")

    with CtrlC() as ctrl_c:
        with pytest.raises(KeyboardInterrupt):
            for _ in graph_pressing_in("a", press_twice).stream({}, stream_mode="updates"):
                pass
    assert ctrl_c.pressed == 2


def test_a_press_swallowed_by_a_c_callback_still_stops_the_run(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def first_then_second_in_c():
        signal.raise_signal(signal.SIGINT)
        press_inside_a_c_callback()  # the KeyboardInterrupt it raises dies in ctypes

    with CtrlC() as ctrl_c:
        done = drive(graph_pressing_in("b", first_then_second_in_c), ctrl_c)
    assert ctrl_c.pressed == 2 and done == ["a"]
    assert reported == []  # no stray traceback from ctypes
    assert sys.unraisablehook == reported.append  # given back


def test_swallowed_interrupt_is_reported_without_the_guard(monkeypatch):
    """The failure the guard exists for: without it the press vanishes and the step goes on."""
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        press_inside_a_c_callback()  # returns normally: the interrupt was swallowed
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [type(r.exc_value) for r in reported] == [KeyboardInterrupt]


def test_guard_restores_the_previous_handler_and_respects_an_ignored_sigint():
    before = signal.getsignal(signal.SIGINT)
    with CtrlC():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with CtrlC() as ctrl_c:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            ctrl_c.check()  # ignored: nothing pressed
    finally:
        signal.signal(signal.SIGINT, previous)
