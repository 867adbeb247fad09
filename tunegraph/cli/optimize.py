"""``tunegraph optimize``: run the optimize graph with a progress bar, checkpointed and resumable,
then show the result table (stdout) and write ``--out``."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tunegraph.agents.llm_ask import fault_counts
from tunegraph.cli.common import data_inputs, each_warning_once, shorten
from tunegraph.cli.ctrl_c import CtrlC
from tunegraph.context import Context, cli_default
from tunegraph.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from tunegraph.graphs.optimize import builder
from tunegraph.tools.llm.answers import duration
from tunegraph.tools.meta.knowledge import estimate_seconds
from tunegraph.tools.meta.portfolio import portfolio_size
from tunegraph.tools.trials.distributed import checkpoint_thread_lock, mask_url
from tunegraph.tools.trials.results import run_result
from tunegraph.tools.trials.runs import (
    check_study_name,
    default_checkpoints,
    default_study_name,
    open_checkpoints,
    run_for,
)
from tunegraph.tools.trials.stream import run_config, stream_updates

LARGE_ROWS = 10_000  # from here on a run says, before its first trial, about how long it will take


def run(args: argparse.Namespace) -> int:
    inputs = {**data_inputs(args), "model": args.model, **({"metric": args.metric} if args.metric else {})}
    inputs["study_name"] = check_study_name(args.study or default_study_name(inputs))
    if args.worker:
        check_study_name(args.worker)
    context = Context(llm=args.llm, sampler=args.sampler, p_llm=args.p_llm, trials=args.trials,
                      time_budget=args.time_budget, patience=args.patience, fail_fast=args.fail_fast,
                      pruner=args.pruner, seed=args.seed, folds=args.folds, warm_start=args.warm_start,
                      learn=cli_default("learn") and not args.no_learn, portfolio=args.portfolio,
                      learn_min_trials=1 if args.learn else cli_default("learn_min_trials"),
                      adaptive_share=cli_default("adaptive_share") and not args.fixed_share,
                      space_box=cli_default("space_box") and not args.full_space,
                      trial_timeout=args.trial_timeout, init_configs=args.init_configs, storage=args.storage,
                      save_model=cli_default("save_model") and not args.no_model, model_path=args.save_model or "",
                      ensemble=args.ensemble)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_for(inputs, context)
    return drive(inputs, context, run, args)


def drive(inputs: dict[str, Any], context: Context, run, args: argparse.Namespace) -> int:
    console = Console(stderr=True, quiet=args.quiet)
    thread_id = inputs["study_name"] + (f"@{args.worker}" if args.worker else "")  # workers of a study: one each
    config = run_config({"configurable": {"thread_id": thread_id}})
    started = time.perf_counter()
    with checkpoint_thread_lock(default_checkpoints().parent, thread_id), \
            open_checkpoints(default_checkpoints()) as saver:
        graph = builder.compile(checkpointer=saver)
        resuming = bool(graph.get_state(config).next)
        done_before = len([t for t in run.study.trials if t.state.is_finished()])
        say_start(run, context, args, inputs["study_name"], done_before, resuming, console)
        try:
            with each_warning_once():
                show_progress(graph, None if resuming else inputs, config, context, console, done_before,
                              args.trials)
        except KeyboardInterrupt:  # the note shows with --quiet too: it says how to resume
            Console(stderr=True).print(f"\n[yellow]interrupted[/yellow]: finished trials are saved in the study. "
                                       f"Resume with: tunegraph optimize ... --study {inputs['study_name']}"
                                       + (f" --worker {args.worker}" if args.worker else ""))
            report(run_result(run, graph.get_state(config).values, time.perf_counter() - started), args, console)
            return EXIT_INTERRUPTED
        final = graph.get_state(config).values
    result = run_result(run, final, time.perf_counter() - started)
    report(result, args, console)
    if result["n_trials"] and result["best_value"] is None:  # no result: say why, and exit non-zero
        top = result["failure_reasons"][:1]
        print(f"tunegraph: error: no trial succeeded ({result['n_failed']} failed); most common reason"
              + (f" ({top[0]['count']} of {result['n_failed']}): {top[0]['reason']}" if top else ": none recorded"),
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def say_start(run, context: Context, args, study: str, done_before: int, resuming: bool, console) -> None:
    llm_name = run.llm.name if run.llm else "none (deterministic policies)"
    console.print(f"[bold]study[/bold] {study}  [bold]task[/bold] {run.task.describe()}"
                  + (f"  [bold]storage[/bold] {mask_url(args.storage)}" if args.storage else "")
                  + (f"  [bold]worker[/bold] {args.worker}" if args.worker else ""))
    console.print(f"[bold]model[/bold] {run.family.name}  [bold]metric[/bold] {run.metric.name} "
                  f"({run.metric.direction})  [bold]sampler[/bold] {context.sampler}  [bold]LLM[/bold] {llm_name}"
                  + (f"  [yellow]resuming after {done_before} finished trials[/yellow]" if resuming or done_before
                     else ""))
    if not done_before:
        console.print(f"[bold]plan[/bold] {plan(run, context, args.trials)}")
    if len(run.task.y) >= LARGE_ROWS and done_before < args.trials:
        say_estimate(run, context, args.trials - done_before, console)


def plan(run, context: Context, trials: int) -> str:
    """What the run will do, in one line (said before the first trial)."""
    what = (f"the family and its hyperparameters together ({', '.join(run.family.members)})"
            if run.bounds.conditional else f"{run.family.name}'s hyperparameters")
    k = min(portfolio_size(context.portfolio, trials), trials)
    start = (f"up to {k} configurations of the task's zero-shot portfolio first (when the configuration matrix "
             f"knows its task type), then {context.sampler}" if k else f"the Initializer's start, then {context.sampler}")
    where = (" in the box of past tasks' best configurations where the meta-dataset has them (--full-space: "
             "everywhere)" if context.space_box else "")
    return f"search {what}: {start}{where}, {trials} trials in all"


def say_estimate(run, context: Context, trials: int, console) -> None:
    try:
        total = estimate_seconds(run.task, run.family.name, trials, context)
    except Exception:  # noqa: BLE001 - an estimate must never stop a run
        return
    per_trial = total / max(trials, 1)
    console.print(f"[bold]estimate[/bold] {len(run.task.y):,} rows: about {duration(per_trial)} per trial, "
                  f"{duration(total)} for {trials} trials ({context.folds}-fold CV; from the meta-learner's predicted "
                  "fit time)" + ("" if context.pruner != "none" else "; --pruner median stops weak trials after a fold"))


def show_progress(graph, inputs, config, context: Context, console, done_before: int, total: int) -> None:
    """Stream the run with a progress bar; Ctrl-C stops it after the step that is running."""
    columns = [TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[status]}")]
    say = console if not console.quiet else Console(stderr=True)  # through the bar's console: it stays intact

    def on_first_press() -> None:
        say.print("[yellow]stopping after the current step[/yellow] (Ctrl-C again to stop at once) ...")

    with CtrlC(on_first_press) as ctrl_c, Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("trials", total=total, completed=min(done_before, total), status="")
        for node, values, state in stream_updates(graph, inputs, context, config):
            if node == "initialize":
                progress.update(bar, status="initial configurations ready")
            elif node == "llm_propose":
                progress.update(bar, status="LLM proposed a configuration")
            elif node == "summarize" and values.get("n_done") is not None:
                progress.update(bar, completed=min(values["n_done"], total), status=status_line(state))
            ctrl_c.check()  # after Ctrl-C: the step that was running is saved, the run stops here


def status_line(state: dict[str, Any]) -> str:
    best, result = state.get("best_value"), state.get("last_result") or {}
    text = f"best {best:.5g}" if best is not None else "no result yet"
    if result:
        outcome = f"{result['value']:.5g}" if result.get("value") is not None else result.get("status")
        text += f" | last trial ({result.get('source')}): {outcome}"
    return text


def report(result: dict[str, Any], args: argparse.Namespace, console) -> None:
    """The result table on stdout (progress and notes go to stderr), and ``--out``."""
    table = Table(title=f"TuneGraph result: {result['study']}", show_header=False)
    best = result["best_value"]
    table.add_row("best " + result["metric"], "no successful trial" if best is None else
                  f"{best:.6g} (trial {result['best_trial']}, {result['best_source']})")
    if best is not None:
        table.add_row("best family", str(result["best_family"]))
        table.add_row("best configuration", json.dumps(result["best_params"]))
        if result.get("cv_std") is not None:
            table.add_row("CV std", f"{result['cv_std']:.4g}")
    pruned, abandoned = result["n_pruned"], result["n_abandoned"]
    table.add_row("trials", f"{result['n_trials']} finished ({result['n_failed']} failed"
                  + (f", {pruned} pruned after a fold" if pruned else "") + ")"
                  + (f", {abandoned} abandoned by a dead worker and run again" if abandoned else ""))
    families = result["best_per_family"]
    if families:  # the search across families: each family's best
        ranked = sorted(families.items(), key=lambda kv: kv[1]["value"], reverse=result["direction"] == "maximize")
        table.add_row("best per family", "\n".join(f"{f}: {v['value']:.6g} (trial {v['trial']})" for f, v in ranked))
    table.add_row("trials by source", ", ".join(f"{k}: {v}" for k, v in sorted(result["trials_by_source"].items()))
                  or "-")
    if result["failure_reasons"]:  # the most common first: one model error usually explains most failures
        table.add_row("failure reasons", "\n".join(f"{r['count']} x {shorten(r['reason'], 160)}"
                                                   for r in result["failure_reasons"]))
    llm, name = result["llm"], result["llm_model"]
    calls = int(llm.get("calls", 0))
    table.add_row("LLM", (name or "none") + (
        f": {calls} calls, {int(llm.get('invalid', 0))} invalid answers, {int(llm.get('errors', 0))} errors, "
        f"{int(llm.get('fallbacks', 0))} fallbacks, mean latency {llm.get('latency_s', 0) / calls:.2f} s"
        if calls else ": not called" if name else ""))  # the resolved LLM; the default tpe path never asks it
    faults = fault_counts(llm)
    if faults:  # every LLM fault by kind: errors (timeout, connection, ...) and rejected answers
        table.add_row("LLM faults", ", ".join(f"{k}: {v}" for k, v in faults.items()))
    table.add_row("stopped because", str(result["stop_reason"] or "interrupted"))
    if result.get("learn_note"):
        table.add_row("meta-dataset", result["learn_note"])
    ensemble = result.get("ensemble") or {}
    if ensemble.get("score") is not None:  # out-of-fold scores on all rows, and the guard's held-out halves
        held = ensemble["held_out"]
        table.add_row("ensemble", f"{ensemble['score']:.6g} out of fold ({len(ensemble['members'])} of "
                      f"{ensemble['n_candidates']} trials) vs best single trial {ensemble['best_single']:.6g}; "
                      f"on held-out halves {', '.join(f'{v:.4g}' for v in held['ensemble'])} vs "
                      f"{', '.join(f'{v:.4g}' for v in held['single'])}: {ensemble['status']} ({ensemble['note']})")
    elif ensemble.get("note"):
        table.add_row("ensemble", ensemble["note"])
    if result.get("model_note"):
        table.add_row("model", result["model_note"] + (" (saved: the path is below)" if result.get("model_path") else ""))
    table.add_row("wall time", f"{result['wall_time_s']:.1f} s")
    Console().print(table)
    if result.get("model_path"):  # whole, on a line of its own: a path cut by the table's width is no use
        Console().print(f"model saved to {result['model_path']}", soft_wrap=True, highlight=False)
        Console(stderr=True).print(f"predict with: tunegraph predict --model {result['model_path']} --data FILE", soft_wrap=True,
                      highlight=False)
    if args.out:
        Path(args.out).write_text(json.dumps({**result, "llm_faults": faults}, indent=2, default=str))
        console.print(f"result written to {args.out}")
