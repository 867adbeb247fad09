"""The chat graph: a conversation over the optimize and recommend graphs.

understand -> (plan -> confirm? -> optimize) | recommend | explain | status | reply

Each turn is read by an explicit command, keyword rules or the LLM (agents/chat_intent.py),
and every answer says which path read it. Work estimated to take longer than
``confirm_above_s`` waits for the user's yes (a LangGraph interrupt). Runs stream their trials
as custom events; ``request_stop()`` (Ctrl-C in the terminal) stops a run after its current
trial, and the finished trials stay in the study for ``/continue``.

Example (scripted):
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from langgraph.types import Command
    >>> chat = builder.compile(checkpointer=InMemorySaver())
    >>> cfg = {"configurable": {"thread_id": "demo"}}
    >>> out = chat.invoke({"messages": [("user", "/optimize iris --model knn --trials 40")]}, cfg,
    ...                   context=Context(llm="none"))                            # doctest: +SKIP
    >>> out["__interrupt__"][0].value["question"]                                 # doctest: +SKIP
    >>> chat.invoke(Command(resume="yes"), cfg, context=Context(llm="none"))      # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from tunegraph.agents.chat_answers import explain_text, load_study, lookup_text, status_text
from tunegraph.agents.chat_intent import HELP, understand as read_request
from tunegraph.graphs.context import Context
from tunegraph.graphs.state import add_counts
from tunegraph.tools.llm.answers import format_config
from tunegraph.tools.trials.runs import default_storage, default_study_name, get_llm
from tunegraph.tools.ml.tasks import load_task

STOP = threading.Event()  # set by request_stop(): the running optimization ends after its current trial
YES = {"y", "yes", "ok", "okay", "go", "sure", "true", "1", "proceed", "confirm"}


def request_stop() -> None:
    STOP.set()


class ChatInput(TypedDict):
    """A chat turn: the new message(s)."""

    messages: Annotated[list[AnyMessage], add_messages]


class ChatState(ChatInput, total=False):
    request: dict[str, Any]  # this turn's request (agents.chat_intent.ChatRequest)
    handled_by: str  # command | rules | llm: who read this turn
    job: dict[str, Any] | None  # the optimization about to run: inputs, budget, estimate
    # this conversation's optimizations (study, data, model); the storage URL stays in the run
    # context, so a password in it never reaches the checkpoint file
    runs: list[dict[str, Any]]
    recommendation: dict[str, Any] | None  # the latest recommendation with its evidence
    latest: str  # run | recommendation: what "why?" refers to when no parameter is named
    llm: Annotated[dict[str, float], add_counts]


def _say(state: dict[str, Any], text: str) -> dict[str, Any]:
    path = state.get("handled_by", "")
    return {"messages": [AIMessage(content=text, name="tunegraph", additional_kwargs={"handled_by": path})]}


def understand(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Read the last user message into a request (command, rules or LLM)."""
    last = next((m for m in reversed(state["messages"]) if isinstance(m, HumanMessage)), None)
    text = last.text if last is not None else ""
    if not text.strip():
        return {"request": {"intent": "help", "error": "empty message"}, "handled_by": "rules", "job": None}
    llm = None
    if not text.strip().startswith("/"):
        try:
            llm = get_llm(runtime.context.llm)
        except ValueError:  # an unreachable Ollama named explicitly: the rules still read the message
            llm = None
    request, path, counts = read_request(text, llm, runtime.context.llm_retries)
    return {"request": request.model_dump(exclude_none=True), "handled_by": path, "job": None, "llm": counts}


def route_request(state: ChatState) -> str:
    intent = state["request"]["intent"]
    return {"optimize": "plan", "continue": "plan", "recommend": "recommend", "explain": "explain",
            "lookup": "lookup", "status": "status"}.get(intent, "reply")


def reply(state: ChatState) -> dict[str, Any]:
    """Help, stop, unknown requests and command errors."""
    request = state["request"]
    if request.get("error") == "empty message":
        return _say(state, "Your message was empty. Tell me what to do, or type /help.")
    if request.get("error"):
        return _say(state, f"I could not use that: {request['error']}.\n{HELP}")
    if request["intent"] == "stop":
        return _say(state, "No optimization is running in this turn. While one runs, Ctrl-C (or cancelling the run "
                    "in Studio) stops it after the current trial; its finished trials are kept, and /continue "
                    "resumes it.")
    if request["intent"] == "help":
        return _say(state, HELP)
    return _say(state, "I did not understand that request; I can tune, recommend, explain and report progress.\n"
                + HELP)


def plan(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Turn an optimize or continue request into a job: check the data, the budget and its cost."""
    ctx, request = runtime.context, state["request"]
    if request["intent"] == "continue":
        return _plan_continue(state, ctx)
    inputs = {"model": request.get("model") or "xgboost"}
    if request.get("dataset"):
        inputs["dataset"] = request["dataset"]
    elif request.get("data_path"):
        path = Path(request["data_path"]).expanduser().resolve()
        if not path.is_file():
            return {**_say(state, f"There is no file {path}. Give a CSV or Parquet file that exists, or a built-in "
                           "data set (breast_cancer, wine, iris, digits, diabetes)."), "job": None}
        inputs["data_path"] = str(path)
    else:
        return {**_say(state, "Which data? Name a built-in data set or a file, e.g. /optimize data.csv --target "
                       "price --trials 30."), "job": None}
    for key in ("target", "metric"):
        if request.get(key):
            inputs[key] = request[key]
    inputs["study_name"] = request.get("study_name") or default_study_name(inputs)
    return _make_job(state, ctx, inputs, int(request.get("trials") or ctx.trials), already=0)


def _plan_continue(state: ChatState, ctx: Context) -> dict[str, Any]:
    request = state["request"]
    runs = state.get("runs") or []
    run = next((r for r in reversed(runs) if r["study"] == request.get("study_name")), None) if \
        request.get("study_name") else (runs[-1] if runs else None)
    if run is None:
        return {**_say(state, "There is no optimization to continue in this conversation. Start one with /optimize."),
                "job": None}
    study = load_study(run["study"], ctx.storage)
    if study is None:
        return {**_say(state, f"The study {run['study']} is no longer in the storage."), "job": None}
    done = sum(t.state.is_finished() for t in study.trials)
    more = int(request.get("trials") or 10)
    return _make_job(state, ctx, dict(run["inputs"]), done + more, already=done)


def _make_job(state: ChatState, ctx: Context, inputs: dict[str, Any], budget: int, already: int) -> dict[str, Any]:
    try:
        task = load_task(dataset=inputs.get("dataset"), data=inputs.get("data_path"), target=inputs.get("target"),
                         task_type=inputs.get("task_type"))
        from tunegraph.tools.ml.models import get_family

        get_family(inputs["model"], task.task_type)
    except ValueError as exc:
        return {**_say(state, f"I cannot start that optimization: {exc}"), "job": None}
    estimate = estimate_seconds(task, inputs["model"], budget - already, ctx)
    return {"job": {"inputs": inputs, "trials": budget, "new_trials": budget - already, "estimate_s": estimate,
                    "task": task.describe()}}


def estimate_seconds(task, family: str, trials: int, ctx: Context) -> float:
    """Rough wall time: the meta-learner's predicted fit time of the family's defaults x folds,
    plus the LLM's share of proposals; a size heuristic when there is no meta-knowledge."""
    mf = task.meta_features()
    try:
        from tunegraph.tools.meta.knowledge import open_knowledge
        from tunegraph.tools.ml.models import get_family

        config = get_family(family, task.task_type).default_config(task)
        _, fit = open_knowledge().learner.predict(mf, family, task.task_type, [config])
        fit_s = float(fit[0]) * max(1.0, mf["n_rows"] / 5000)  # the meta-dataset caps data at 5,000 rows
    except (ValueError, OSError, KeyError):
        fit_s = 0.05 + mf["n_rows"] * mf["n_features"] * 2e-6
    llm_s = 0.0 if ctx.llm == "none" or ctx.sampler in ("tpe", "random") else ctx.p_llm * 5.0
    return float(round(trials * (ctx.folds * fit_s + llm_s + 0.05), 1))  # plain float: it goes into graph state


def route_job(state: ChatState, runtime: Runtime[Context]) -> str:
    job = state.get("job")
    if not job:
        return END
    return "confirm" if job["estimate_s"] > runtime.context.confirm_above_s else "optimize"


def confirm(state: ChatState) -> dict[str, Any]:
    """Ask before a long run (an interrupt: the terminal asks y/N, Studio shows a resume box)."""
    job = state["job"]
    data = job["inputs"].get("dataset") or job["inputs"].get("data_path")
    answer = interrupt({"question": f"Run {job['new_trials']} trials of {job['inputs']['model']} on {data}? "
                        f"That takes about {_duration(job['estimate_s'])} (estimate). Go ahead? [y/N]",
                        "job": job})
    approved = answer.get("approve") if isinstance(answer, dict) else str(answer).strip().lower() in YES
    if approved:
        return {}
    return {**_say(state, f"Not started. The request is kept: say /optimize again when you want it "
                   f"(study {job['inputs']['study_name']})."), "job": None}


def route_confirmed(state: ChatState) -> str:
    return "optimize" if state.get("job") else END


def optimize(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run the optimize graph, streaming each trial; a stop request ends it after the current trial."""
    from tunegraph.graphs.optimize import builder as optimize_builder

    job, ctx = state["job"], runtime.context
    inputs = job["inputs"]
    storage = ctx.storage or default_storage()
    run_ctx = replace(ctx, trials=job["trials"], storage=storage)
    graph = optimize_builder.compile(checkpointer=False)  # the study is the record; no nested checkpoints
    write = get_stream_writer()
    runs = [r for r in (state.get("runs") or []) if r["study"] != inputs["study_name"]]
    runs.append({"study": inputs["study_name"], "inputs": inputs, "model": inputs["model"],
                 "data": inputs.get("dataset") or inputs.get("data_path")})
    STOP.clear()
    started, stopped, last = time.perf_counter(), False, {}
    write({"event": "run_started", "study": inputs["study_name"], "trials": job["trials"], "task": job["task"]})
    try:
        for update in graph.stream(inputs, {"recursion_limit": 100_000}, context=run_ctx, stream_mode="updates"):
            for node, values in update.items():
                last.update(values or {})
                write({"event": "step", "node": node})
                if node == "summarize" and (values or {}).get("n_done") is not None:
                    write({"event": "trial", "n_done": values["n_done"], "total": job["trials"],
                           "best": last.get("best_value"), "last": last.get("last_result")})
                    if STOP.is_set():
                        stopped = True
                        break
            if stopped:
                break
    except ValueError as exc:  # bad task, metric or LLM settings found by the graph
        return {**_say(state, f"The optimization could not run: {exc}"), "runs": runs, "job": None}
    finally:
        STOP.clear()
    wall = time.perf_counter() - started
    why = "stopped at your request after the current trial" if stopped else (last.get("stop_reason") or "done")
    text = status_text(runs[-1], storage) + f"\nRun ended: {why}, {wall:.0f} s."
    if stopped:
        text += " Say /continue to go on; the finished trials are kept."
    return {**_say(state, text), "runs": runs, "job": None, "llm": last.get("llm") or {}, "latest": "run"}


def recommend(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run the recommend graph (zero-shot) on the requested data."""
    from tunegraph.graphs.recommend import builder as recommend_builder

    request = state["request"]
    inputs: dict[str, Any] = {}
    if request.get("dataset"):
        inputs["dataset"] = request["dataset"]
    elif request.get("data_path"):
        path = Path(request["data_path"]).expanduser().resolve()
        if not path.is_file():
            return _say(state, f"There is no file {path}.")
        inputs["data_path"] = str(path)
    else:
        return _say(state, "Which data? Name a built-in data set or a file, e.g. /recommend data.csv --target price.")
    for key in ("target", "metric", "families", "evaluate"):
        if request.get(key):
            inputs[key] = request[key]
    get_stream_writer()({"event": "step", "node": "recommend graph: retrieving evidence"})
    try:
        out = recommend_builder.compile(checkpointer=False).invoke(inputs, context=runtime.context)
    except ValueError as exc:
        return _say(state, f"I cannot recommend for that: {exc}")
    final, evaluation = out["final"], out.get("evaluation")
    judgement = final["judgement"]
    text = (f"I recommend {final['family']} with {format_config(final['params'])}.\n"
            f"Expected: normalized score {final['expected_score']:.3f} (1 = best known on similar data), fit time "
            f"{final['expected_fit_time_s']:.2g} s.\nWhy: {final['justification']}\n"
            f"Judge: score {judgement['score']:.2f} ({'accepted' if judgement['passed'] else 'best of the rounds'}), "
            f"{final['source']}, {final['rounds']} round(s).")
    if evaluation and evaluation.get("status") == "ok":
        text += f"\nCross-validated {evaluation['metric']}: {evaluation['mean']:.5g} ± {evaluation['std']:.2g}."
    record = {"final": final, "evidence": out.get("evidence"), "evaluation": evaluation, "inputs": inputs}
    return {**_say(state, text), "recommendation": record, "llm": out.get("llm") or {}, "latest": "recommendation"}


def explain(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    runs = state.get("runs") or []
    text = explain_text(state["request"].get("question") or "", runs[-1] if runs else None,
                        state.get("recommendation"), runtime.context.storage, state.get("latest") or "run")
    return _say(state, text)


def status(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    runs = state.get("runs") or []
    name = state["request"].get("study_name")
    run = {"study": name} if name else (runs[-1] if runs else None)
    return _say(state, status_text(run, runtime.context.storage))


def lookup(state: ChatState) -> dict[str, Any]:
    """Past experiments like the user's words, from the meta-dataset's text index."""
    write = get_stream_writer()
    write({"event": "step", "node": "lookup", "detail": "searching recorded experiments"})

    def on_build() -> None:
        write({"event": "step", "node": "lookup", "detail": "embedding the meta-dataset's records for text search "
                                                          "(first search only; minutes on a small machine)"})

    return _say(state, lookup_text(state["request"].get("question") or "", on_build=on_build))


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


builder = StateGraph(ChatState, input_schema=ChatInput, context_schema=Context)
builder.add_node("understand", understand)
builder.add_node("plan", plan)
builder.add_node("confirm", confirm)
builder.add_node("optimize", optimize)
builder.add_node("recommend", recommend)
builder.add_node("explain", explain)
builder.add_node("lookup", lookup)
builder.add_node("status", status)
builder.add_node("reply", reply)
builder.add_edge(START, "understand")
builder.add_conditional_edges("understand", route_request, ["plan", "recommend", "explain", "lookup", "status", "reply"])
builder.add_conditional_edges("plan", route_job, ["confirm", "optimize", END])
builder.add_conditional_edges("confirm", route_confirmed, ["optimize", END])
for node in ("optimize", "recommend", "explain", "lookup", "status", "reply"):
    builder.add_edge(node, END)

graph = builder.compile(name="chat")
