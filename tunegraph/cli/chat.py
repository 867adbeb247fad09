"""``tunegraph chat``: the chat graph in a terminal.

Each line is one turn. Agent steps and trials are printed as they stream; an answer is
prefixed with the path that read the request ([command], [rules] or [llm]). The conversation
is checkpointed in SQLite under its thread name, so ``tunegraph chat --thread NAME`` resumes it
after an exit or a crash. Ctrl-C during a run stops it after the current trial (twice: at once);
at the prompt, /quit or Ctrl-D leaves.
"""

from __future__ import annotations

import argparse
import secrets
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from tunegraph.agents.chat import request_stop
from tunegraph.cli.ctrl_c import CtrlC
from tunegraph.context import Context
from tunegraph.graphs.chat import builder
from tunegraph.tools.trials.runs import DATA_DIR, check_study_name, get_llm, open_checkpoints
from tunegraph.tools.trials.stream import run_config

STEP_NAMES = {"initialize": "Initializer", "warm_start": "warm start", "llm_propose": "LLM Optimizer proposes",
              "sample_propose": "sampler proposes", "evaluate": "Evaluator cross-validates",
              "remember": "learning from the run", "plan": "planning", "understand": "reading your message"}


def chat_checkpoints() -> Path:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return DATA_DIR / "chat.db"


def run(args: argparse.Namespace) -> int:
    if args.thread:
        check_study_name(args.thread, "thread name")
    context = Context(llm=args.llm, trials=args.trials, folds=args.folds, confirm_above_s=args.confirm_above,
                      storage=args.storage)
    warnings.simplefilter("ignore")
    get_llm(context.llm)  # an unreachable server or a missing model file: say so now, not mid-conversation
    return run_chat(args.thread, context)


def run_chat(thread: str | None, context: Context, read: Callable[[str], str] = input,
             write: Callable[[str], None] = print) -> int:
    # a random tail: two chats started in the same second in one folder must not share a thread
    thread = thread or time.strftime("chat-%Y%m%d-%H%M%S", time.gmtime()) + f"-{secrets.token_hex(2)}"
    config = run_config({"configurable": {"thread_id": thread}})
    _load_history()
    with open_checkpoints(chat_checkpoints()) as saver:
        graph = builder.compile(checkpointer=saver)
        snapshot = graph.get_state(config)
        history = snapshot.values.get("messages") or []
        if history:
            write(f"Resuming conversation '{thread}' ({len(history)} messages). Last exchange:")
            for message in history[-2:]:
                write(_format_message(message))
        else:
            write(f"TuneGraph chat, conversation '{thread}' (resume it with: tunegraph chat --thread {thread}). "
                  "Type /help for commands, /quit to leave.")
        pending = snapshot.interrupts if snapshot.next else ()
        while True:
            if pending:
                payload = _turn(graph, _resume(pending, read, write), config, context, write)
            else:
                try:
                    line = read("you> ")
                except EOFError:
                    write("")
                    break
                except KeyboardInterrupt:
                    write("\n(/quit or Ctrl-D leaves the chat)")
                    continue
                if line.strip().lower() in ("/quit", "/exit", "quit", "exit"):
                    break
                payload = _turn(graph, {"messages": [("user", line)]}, config, context, write)
            pending = payload
    _save_history()
    write(f"Bye. Resume with: tunegraph chat --thread {thread}")
    return 0


def _resume(interrupts, read, write):
    write(interrupts[0].value.get("question", "Go ahead? [y/N]"))
    try:
        answer = read("confirm> ")
    except (EOFError, KeyboardInterrupt):
        answer = "no"
    return Command(resume=answer)


def _turn(graph, payload: Any, config: RunnableConfig, context: Context, write) -> tuple:
    """Stream one turn; returns the interrupts the turn ended on (empty when it finished)."""
    def on_first_press() -> None:
        request_stop()
        write("\nstopping after the current trial (Ctrl-C again to stop at once) ...")

    with CtrlC(on_first_press):
        try:
            for mode, chunk in graph.stream(payload, config, context=context, stream_mode=["updates", "custom"]):
                if mode == "custom":
                    _show_event(chunk, write)
                    continue
                for node, values in chunk.items():
                    if node == "__interrupt__":
                        continue
                    for message in (values or {}).get("messages", []):
                        write(_format_message(message))
        except KeyboardInterrupt:
            write("interrupted. Finished trials are kept in the study; say /continue to go on.")
    snapshot = graph.get_state(config)
    return snapshot.interrupts if snapshot.next else ()


def _show_event(event: dict[str, Any], write) -> None:
    kind = event.get("event")
    if kind == "run_started":
        write(f"  study {event['study']}: {event['task']}")
    elif kind == "step" and event.get("node") in ("initialize", "warm_start", "llm_propose", "remember"):
        write(f"  · {STEP_NAMES[event['node']]}")
    elif kind == "step" and event.get("node", "").startswith("recommend graph"):
        write(f"  · {event['node']}")
    elif kind == "step" and event.get("detail"):
        write(f"  · {event['detail']}")
    elif kind == "trial" and event.get("number"):  # none before the first trial of a run (or of a /continue)
        last = event.get("last") or {}
        outcome = f"{last['value']:.5g}" if last.get("value") is not None else last.get("status", "")
        best = f"{event['best']:.5g} (trial {event['best_number']})" if event.get("best") is not None else "-"
        write(f"  trial {event['number']}/{event['total']} ({last.get('source', '?')}): {outcome}   best {best}")


def _format_message(message) -> str:
    if getattr(message, "type", "") == "human":
        return f"you> {message.text}"
    path = (getattr(message, "additional_kwargs", None) or {}).get("handled_by", "")
    return f"tunegraph [{path}]> {message.text}"


def _history_file() -> Path:
    return DATA_DIR / "chat_history"


def _load_history() -> None:
    try:
        import readline

        if _history_file().exists():
            readline.read_history_file(str(_history_file()))
    except (ImportError, OSError):
        pass


def _save_history() -> None:
    try:
        import readline

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(str(_history_file()))
    except (ImportError, OSError):
        pass
