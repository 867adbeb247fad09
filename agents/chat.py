"""The chat agent's nodes: read a turn, plan and confirm a run, run it, recommend, explain, report.

Each turn is read by an explicit command, keyword rules or the LLM (agents/chat_intent.py),
and every answer says which path read it. What a turn leaves out (the data, the model family,
the budget, the study) comes from the conversation so far (agents/chat_context.py), and a run
of a recommendation just shown starts from it. Runs stream their trials as custom events;
``request_stop()`` (Ctrl-C in the terminal) stops a run after its current trial. The optimize
and recommend graphs reach these nodes as arguments (graphs/chat.py wires them in): agents
import no graph.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import replace
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from tunegraph.agents import chat_context, chat_model
from tunegraph.agents.chat_answers import conversation_best_text, explain_text, load_study, lookup_text, status_text
from tunegraph.agents.chat_intent import HELP
from tunegraph.agents.chat_intent import understand as read_request
from tunegraph.agents.warm_start import config_key
from tunegraph.context import Context
from tunegraph.errors import InputError, TuneGraphError
from tunegraph.state import ChatState
from tunegraph.tools.llm.answers import duration, format_config, shown_number
from tunegraph.tools.meta.knowledge import estimate_seconds
from tunegraph.tools.ml.tasks import TextEncodingNote, load_task
from tunegraph.tools.trials.runs import default_storage, default_study_name, get_llm, run_for
from tunegraph.tools.trials.stream import stream_updates

STOP = threading.Event()  # set by request_stop(): the running optimization ends after its current trial
YES = {"y", "yes", "ok", "okay", "go", "sure", "true", "1", "proceed", "confirm"}


def request_stop() -> None:
    STOP.set()


def _say(state: ChatState, text: str) -> dict[str, Any]:
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
        except TuneGraphError:  # an unreachable Ollama named explicitly: the rules still read the message
            llm = None
    request, path, counts = read_request(text, llm, runtime.context.llm_retries)
    return {"request": request.model_dump(exclude_none=True), "handled_by": path, "job": None, "llm": counts}




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
    """Turn an optimize or continue request into a job: check the data, the budget and its cost.
    What the request leaves out (data, family, budget) comes from the conversation's subject."""
    ctx, request = runtime.context, state["request"]
    if request["intent"] == "continue":
        return _plan_continue(state, ctx)
    try:
        inputs, recalled = chat_context.optimize_inputs(request, state.get("subject"), ctx.trials)
    except chat_context.NoData as exc:
        return {**_say(state, str(exc)), "job": None}
    trials = inputs.pop("trials")
    if request.get("study_name"):
        inputs["study_name"] = request["study_name"]
    return _make_job(state, ctx, inputs, trials, already=0, recalled=recalled)


def _plan_continue(state: ChatState, ctx: Context) -> dict[str, Any]:
    request = state["request"]
    run = chat_context.pick_run(state.get("runs") or [], request)
    if run is None:
        named = _named(request)
        return {**_say(state, "There is no optimization " + (f"of {named} " if named else "")
                       + "to continue in this conversation. Start one with /optimize."), "job": None}
    study = load_study(run["study"], ctx.storage)
    if study is None:
        return {**_say(state, f"The study {run['study']} is no longer in the storage."), "job": None}
    done = sum(t.state.is_finished() for t in study.trials)
    more = int(request.get("trials") or 10)
    return _make_job(state, ctx, dict(run["inputs"]), done + more, already=done)


def _make_job(state: ChatState, ctx: Context, inputs: dict[str, Any], budget: int, already: int,
              recalled: dict[str, str] | None = None) -> dict[str, Any]:
    from tunegraph.tools.ml.models import get_family

    recalled, notes = dict(recalled or {}), []
    try:
        with warnings.catch_warnings(record=True) as caught:  # a file not in UTF-8: its encoding is said
            warnings.simplefilter("always", TextEncodingNote)
            task = load_task(dataset=inputs.get("dataset"), data=inputs.get("data_path"),
                             target=inputs.get("target"), task_type=inputs.get("task_type"),
                             encoding=inputs.get("encoding"))
        for warning in caught:
            if issubclass(warning.category, TextEncodingNote):
                notes.append(str(warning.message))
            else:  # the others as they were
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        try:
            get_family(inputs["model"], task.task_type)
        except InputError:
            if "model" not in recalled:
                raise
            # a family remembered from other data that cannot do this task: the default one, said so
            del recalled["model"]
            notes.append(f"model {chat_context.DEFAULT_MODEL}: the {inputs['model']} from earlier does not do "
                         f"{task.task_type}")
            inputs = {**inputs, "model": chat_context.DEFAULT_MODEL}
            get_family(inputs["model"], task.task_type)
    except InputError as exc:
        return {**_say(state, f"I cannot start that optimization: {exc}"), "job": None}
    notes = chat_context.recalled_note(recalled) + notes
    inputs.setdefault("study_name", default_study_name(inputs))  # named after the family that runs
    estimate = estimate_seconds(task, inputs["model"], budget - already, ctx)
    warm = chat_context.warm_configs(state.get("recommendation"), inputs) if not already else []
    if warm:
        notes.append(chat_context.warm_note(warm, inputs["model"]))
    subject = chat_context.remember(state.get("subject"), inputs, task.task_type, inputs["model"],
                                    None if already else budget)
    return {"job": {"inputs": inputs, "trials": budget, "new_trials": budget - already, "estimate_s": estimate,
                    "task": task.describe(), "notes": notes, "warm_configs": warm}, "subject": subject}







def confirm(state: ChatState) -> dict[str, Any]:
    """Ask before a long run (an interrupt: the terminal asks y/N, Studio shows a resume box)."""
    job = _job(state)
    data = job["inputs"].get("dataset") or job["inputs"].get("data_path")
    warm = ", warm-started from the recommendation above," if job.get("warm_configs") else ""
    answer = interrupt({"question": f"Run {job['new_trials']} trials of {job['inputs']['model']} on {data}{warm}? "
                        f"That takes about {duration(job['estimate_s'])} (estimate). Go ahead? [y/N]",
                        "job": job})
    approved = answer.get("approve") if isinstance(answer, dict) else str(answer).strip().lower() in YES
    if approved:
        return {}
    return {**_say(state, f"Not started. The request is kept: say /optimize again when you want it "
                   f"(study {job['inputs']['study_name']})."), "job": None}




def optimize(state: ChatState, runtime: Runtime[Context], optimize_graph) -> dict[str, Any]:
    """Run ``optimize_graph`` (the optimize graph, compiled without a checkpointer: the study is the
    record), streaming each trial; a stop request ends it after the current trial."""
    job, ctx = _job(state), runtime.context
    inputs = job["inputs"]
    storage = ctx.storage or default_storage()
    run_ctx = replace(ctx, trials=job["trials"], storage=storage)
    graph = optimize_graph
    write = get_stream_writer()
    runs = [r for r in (state.get("runs") or []) if r["study"] != inputs["study_name"]]
    runs.append({"study": inputs["study_name"], "inputs": inputs, "model": inputs["model"],
                 "data": inputs.get("dataset") or inputs.get("data_path")})
    warm = job.get("warm_configs") or []
    graph_inputs = {**inputs, "warm_configs": warm} if warm else inputs  # not in the run record: /continue has them
    STOP.clear()
    started, stopped = time.perf_counter(), False
    last: dict[str, Any] = {}
    write({"event": "run_started", "study": inputs["study_name"], "trials": job["trials"], "task": job["task"]})
    try:
        for node, values, last in stream_updates(graph, graph_inputs, run_ctx):
            write({"event": "step", "node": node})
            if node == "summarize" and values.get("n_done") is not None:
                write(trial_event(last, job["trials"]))
                if STOP.is_set():
                    stopped = True
                    break
    except TuneGraphError as exc:  # bad task, metric or LLM settings found by the graph, or its storage
        return {**_say(state, f"The optimization could not run: {exc}"), "runs": runs, "job": None}
    finally:
        STOP.clear()
    wall = time.perf_counter() - started
    why = "stopped at your request after the current trial" if stopped else (last.get("stop_reason") or "done")
    text = _sentences(job.get("notes") or [])
    if warm:
        text += _warm_outcome(warm[0]["params"], inputs["study_name"], storage, run_for(inputs, run_ctx).bounds)
    text += status_text(runs[-1], storage) + f"\nRun ended: {why}, {wall:.0f} s."
    if last.get("model_path"):  # the refit winner: "save the model" and "predict FILE" use it
        runs[-1]["model_path"] = last["model_path"]
        text += f"\nModel ({last.get('model_note')}) saved to {last['model_path']}; say \"predict FILE\" to use it."
    if stopped:
        text += " Say /continue to go on; the finished trials are kept."
    return {**_say(state, text), "runs": runs, "job": None, "llm": last.get("llm") or {}, "latest": "run"}


def save(state: ChatState) -> dict[str, Any]:
    """Save the last run's model (refit on all rows) where the user says."""
    return _say(state, chat_model.save_text(state.get("runs") or [], state["request"].get("path")))


def predict(state: ChatState) -> dict[str, Any]:
    """Predict a file's rows with the last run's model."""
    request = state["request"]
    return _say(state, chat_model.predict_text(state.get("runs") or [], request.get("data_path"), request.get("path")))


def _job(state: ChatState) -> dict[str, Any]:
    """The run that plan set up; the graph reaches confirm and optimize only with one (graphs/chat.py)."""
    job = state["job"]
    if job is None:
        raise ValueError("no optimization planned in this state")
    return job


def _warm_outcome(params: dict[str, Any], study_name: str, storage: str, space: Any = None) -> str:
    """Where the recommended configuration ran in the study, and how it scored; said as a repeat
    avoided when an earlier trial (a portfolio member, say) was the same configuration."""
    study = load_study(study_name, storage)
    if study is None:
        return ""
    same = [t for t in study.trials if t.state.is_finished() and (
        t.params == params or (space is not None and config_key(space, t.params) == config_key(space, params)))]
    trial = next((t for t in same if t.user_attrs.get("source") == "meta"), same[0] if same else None)
    if trial is None:
        return ""
    outcome = f"{study.user_attrs.get('metric', 'score')} {trial.value:.5g}" if trial.value is not None else "failed"
    if trial.user_attrs.get("source") != "meta":
        return (f"The recommended configuration was already trial {shown_number(trial.number)} "
                f"({trial.user_attrs.get('source')}): {outcome}; it was not run twice.\n")
    return f"The recommended configuration ran as trial {shown_number(trial.number)}: {outcome}.\n"


def trial_event(state: dict[str, Any], total: int) -> dict[str, Any]:
    """A streamed progress event. ``number`` and ``best_number`` are the trials' numbers as every
    answer shows them (from 1, see tools.answers.shown_number), so "trial 6/8 ... best (trial 6)"
    and "best ... at trial 6" name the same trial; ``n_done`` counts the finished ones."""
    last = dict(state.get("last_result") or {})
    if last.get("number") is not None:
        last["number"] = shown_number(last["number"])
    return {"event": "trial", "n_done": state["n_done"], "total": total, "number": last.get("number"),
            "best": state.get("best_value"), "best_number": shown_number(state.get("best_number")), "last": last}


def recommend(state: ChatState, runtime: Runtime[Context], recommend_graph) -> dict[str, Any]:
    """Run ``recommend_graph`` (the recommend graph, zero-shot) on the requested data."""
    request = state["request"]
    try:
        inputs, notes = chat_context.recommend_data(request, state.get("subject"))
    except chat_context.NoData as exc:
        return _say(state, str(exc))
    for key in ("families", "evaluate"):
        if request.get(key):
            inputs[key] = request[key]
    get_stream_writer()({"event": "step", "node": "recommend graph: retrieving evidence"})
    try:
        out = recommend_graph.invoke(inputs, context=runtime.context)
    except TuneGraphError as exc:
        return _say(state, f"I cannot recommend for that: {exc}")
    final, evaluation = out["final"], out.get("evaluation")
    judgement = final["judgement"]
    text = _sentences(notes)
    text += (f"I recommend {final['family']} with {format_config(final['params'])}.\n"
            f"Expected: normalized score {final['expected_score']:.3f} (1 = best known on similar data), fit time "
            f"{final['expected_fit_time_s']:.2g} s.\nWhy: {final['justification']}\n"
            f"Judge: score {judgement['score']:.2f} ({'accepted' if judgement['passed'] else 'best of the rounds'}), "
            f"{final['source']}, {final['rounds']} round(s).")
    if evaluation and evaluation.get("status") == "ok":
        text += f"\nCross-validated {evaluation['metric']}: {evaluation['mean']:.5g} ± {evaluation['std']:.2g}."
    record = {"final": final, "evidence": out.get("evidence"), "evaluation": evaluation, "inputs": inputs}
    subject = chat_context.remember(state.get("subject"), inputs, out.get("task_type"), final["family"])
    return {**_say(state, text), "recommendation": record, "llm": out.get("llm") or {}, "latest": "recommendation",
            "subject": subject}


def explain(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Why a value was chosen: in the last study (or the last on the data the question names),
    or in the recommendation."""
    run = chat_context.pick_run(state.get("runs") or [], state["request"])
    text = explain_text(state["request"].get("question") or "", run, state.get("recommendation"),
                        runtime.context.storage, state.get("latest") or "run")
    return _say(state, text)


def status(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    """The best trial of the study named, or of the last (on the data or family named)."""
    request, runs = state["request"], state.get("runs") or []
    run = {"study": request["study_name"]} if request.get("study_name") else chat_context.pick_run(runs, request)
    if run is None and runs:
        return _say(state, f"There is no optimization of {_named(request)} in this conversation; /status shows the "
                    "last one.")
    text = status_text(run, runtime.context.storage)
    if not request.get("study_name") and run is not None:  # "best so far": over the conversation, on that data
        text += conversation_best_text([r for r in runs if chat_context.same_source(r["inputs"], run["inputs"])],
                                       run["study"], runtime.context.storage)
    return _say(state, text)


def _sentences(notes: list[str]) -> str:
    """Notes as the first lines of an answer: "From earlier in this conversation: data wine.\n"."""
    return "".join(f"{note[0].upper()}{note[1:]}.\n" for note in notes)


def _named(request: dict[str, Any]) -> str:
    return " on ".join(v for v in (request.get("model"), request.get("dataset"), request.get("data_path")) if v)


def lookup(state: ChatState) -> dict[str, Any]:
    """Past experiments like the user's words, from the meta-dataset's text index."""
    write = get_stream_writer()
    write({"event": "step", "node": "lookup", "detail": "searching recorded experiments"})

    def on_build() -> None:
        write({"event": "step", "node": "lookup", "detail": "embedding the meta-dataset's records for text search "
                                                          "(first search only; minutes on a small machine)"})

    return _say(state, lookup_text(state["request"].get("question") or "", on_build=on_build))
