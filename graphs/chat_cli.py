"""``tunegraph chat``: the chat graph in a terminal.

Each line is one turn. Agent steps and trials are printed as they stream; an answer is
prefixed with the path that read the request ([command], [rules] or [llm]). The conversation
is checkpointed in SQLite under its thread name, so ``tunegraph chat --thread NAME`` resumes it
after an exit or a crash. Ctrl-C during a run stops it after the current trial (twice: at once);
at the prompt, /quit or Ctrl-D leaves.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from tunegraph.graphs.context import Context
from tunegraph.tools.trials.runs import DATA_DIR

STEP_NAMES = {"initialize": "Initializer", "warm_start": "warm start", "llm_propose": "LLM Optimizer proposes",
              "sample_propose": "sampler proposes", "evaluate": "Evaluator cross-validates",
              "remember": "learning from the run", "plan": "planning", "understand": "reading your message"}


def chat_checkpoints() -> Path:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return DATA_DIR / "chat.db"


def run_chat(thread: str | None, context: Context, read: Callable[[str], str] = input,
             write: Callable[[str], None] = print) -> int:
    from tunegraph.graphs.chat import builder
    from tunegraph.tools.trials.runs import open_checkpoints

    thread = thread or time.strftime("chat-%Y%m%d-%H%M%S", time.gmtime())
    config = {"configurable": {"thread_id": thread}, "recursion_limit": 1000}
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
    from langgraph.types import Command

    write(interrupts[0].value.get("question", "Go ahead? [y/N]"))
    try:
        answer = read("confirm> ")
    except (EOFError, KeyboardInterrupt):
        answer = "no"
    return Command(resume=answer)


def _turn(graph, payload: Any, config: dict, context: Context, write) -> tuple:
    """Stream one turn; returns the interrupts the turn ended on (empty when it finished)."""
    from tunegraph.agents.chat import request_stop
    from tunegraph.graphs.ctrl_c import CtrlC

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


def main_studio(host: str, port: int, open_browser: bool) -> int:
    """``langgraph dev`` on loopback with version checks, analytics and tracing off (offline)."""
    import importlib.util
    import os
    import subprocess

    from tunegraph.tools.meta.metadataset import shipped_data_dir

    config = shipped_data_dir() / "langgraph.json"  # package data: works from a wheel as from a checkout
    if not config.is_file():
        print(f"tunegraph: error: {config} is missing: reinstall TuneGraph", file=sys.stderr)
        return 2
    if importlib.util.find_spec("langgraph_cli") is None or importlib.util.find_spec("langgraph_api") is None:
        print("tunegraph: error: the LangGraph CLI is missing: pip install 'tunegraph[studio]' "
              "(from a checkout: pip install -e '.[studio]')", file=sys.stderr)
        return 2
    env = {**os.environ, "LANGGRAPH_NO_VERSION_CHECK": "true", "LANGGRAPH_CLI_NO_ANALYTICS": "1",
           "LANGSMITH_TRACING": "false", "LANGCHAIN_TRACING_V2": "false"}
    command = [sys.executable, "-m", "langgraph_cli", "dev", "--config", str(config), "--host", host,
               "--port", str(port), "--no-reload"]
    if not open_browser:
        command.append("--no-browser")
    print(f"Starting the LangGraph API server on http://{host}:{port} (graphs: optimize, recommend, chat).\n"
          f"Open Studio at https://smith.langchain.com/studio/?baseUrl=http://{host}:{port} "
          "(the page runs in your browser and talks to this local server).", file=sys.stderr)
    server = subprocess.Popen(command, env=env)
    import signal

    def stop(signum, frame):  # a `kill` of tunegraph studio stops the server too, instead of orphaning it
        server.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
