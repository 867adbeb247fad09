"""The ``tunegraph`` command line.

    tunegraph optimize --dataset breast_cancer --model xgboost --trials 20
    tunegraph optimize --data houses.csv --target price --model random_forest --llm none
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

EXIT_NO_RESULT = 1  # the run ended without one successful trial: the table says why
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    from tunegraph.graphs.context import ContextError

    try:
        parser = build_parser()
    except ContextError as exc:  # a TUNEGRAPH_<FIELD> variable of the wrong type
        return _error(str(exc))
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return args.handler(args)
    except KeyboardInterrupt:  # before a run's own handling starts (loading data, the LLM): no traceback
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    from tunegraph.tools.trials.evaluation import METRICS
    from tunegraph.tools.ml.models import FAMILIES
    from tunegraph.tools.trials.sampler import MODES
    from tunegraph.tools.trials.runs import PRUNERS
    from tunegraph.graphs.context import cli_default, cli_help

    parser = argparse.ArgumentParser(prog="tunegraph", description="Pick a model's hyperparameters with a "
                                     "local LLM, meta-knowledge and Optuna.")
    sub = parser.add_subparsers(dest="command")
    opt = sub.add_parser("optimize", help="sequential optimization: LLM Initializer, LLM-TPE sampler, CV Evaluator",
                         description="Optimize a model family's hyperparameters on a data set (SLLMBO).")
    _add_data_arguments(opt)
    opt.add_argument("--model", default="auto", help=f"model family: {', '.join(FAMILIES)}, or auto: the family "
                     "chosen with its hyperparameters, across the fast families (default: auto)")
    opt.add_argument("--metric", help=f"one of {', '.join(METRICS)} (default: roc_auc for two classes, "
                     "accuracy for more, rmse for regression)")
    opt.add_argument("--trials", type=int, default=cli_default("trials"), help=cli_help("trials"))
    opt.add_argument("--llm", default=cli_default("llm"), help=cli_help(
        "llm", "; auto = Ollama if it has the model, else the embedded SmolLM2"))
    opt.add_argument("--sampler", default=cli_default("sampler"), choices=MODES, help=cli_help("sampler"))
    opt.add_argument("--p-llm", type=float, default=cli_default("p_llm"), help=cli_help("p_llm"))
    opt.add_argument("--fixed-share", action="store_true",
                     help="llm_tpe: the LLM proposes with probability --p-llm throughout, as in older runs "
                     "(default: it earns its share from the study's results, starting at --p-llm)")
    opt.add_argument("--patience", type=int, default=cli_default("patience"), help=cli_help("patience"))
    opt.add_argument("--time-budget", type=float, default=cli_default("time_budget"), help=cli_help("time_budget"))
    opt.add_argument("--pruner", default=cli_default("pruner"), choices=PRUNERS, help=cli_help("pruner"))
    opt.add_argument("--fail-fast", type=int, default=cli_default("fail_fast"), metavar="N",
                     help=cli_help("fail_fast", ", naming the reason"))
    opt.add_argument("--warm-start", type=int, default=cli_default("warm_start"), metavar="K",
                     help=cli_help("warm_start"))
    opt.add_argument("--no-learn", action="store_true",
                     help="do not add this run's trials to your meta-dataset layer")
    opt.add_argument("--trial-timeout", type=float, default=cli_default("trial_timeout"), help=cli_help(
        "trial_timeout", "; the folds then run in a child process, killed if a fold runs on"))
    opt.add_argument("--folds", type=int, default=cli_default("folds"), help=cli_help("folds"))
    opt.add_argument("--portfolio", type=int, default=cli_default("portfolio"), metavar="K",
                     help=cli_help("portfolio"))
    opt.add_argument("--full-space", action="store_true",
                     help="TPE searches the whole search space (default: the box of past tasks' best "
                     "configurations and the portfolio, which measured better; see README)")
    opt.add_argument("--init-configs", type=int, default=cli_default("init_configs"), help=cli_help("init_configs"))
    opt.add_argument("--seed", type=int, default=cli_default("seed"), help=cli_help("seed"))
    opt.add_argument("--storage", default=cli_default("storage"), help=cli_help("storage"))
    opt.add_argument("--study", help="study name; an existing one resumes "
                                     "(default: <data>-<model>-<time>-<random>, a new study)")
    opt.add_argument("--worker", help="this worker's name, when several run one study from the same directory: "
                     "each checkpoints and resumes on its own (default: one worker per directory)")
    opt.add_argument("--out", help="write the result as JSON to this file")
    opt.add_argument("--quiet", action="store_true", help="no progress bar")
    opt.set_defaults(handler=run_optimize)

    rec = sub.add_parser("recommend", help="zero-shot recommendation: retriever, recommender, LLM-as-judge",
                         description="Recommend a model family and hyperparameters without running trials (MetaLLMiX).")
    _add_data_arguments(rec)
    rec.add_argument("--metric", help="the metric you care about (default: as for optimize)")
    rec.add_argument("--families", nargs="+", help="allowed model families (default: all that fit the task)")
    rec.add_argument("--time-budget", type=float, default=0.0, help="fit-time budget in seconds per fit (0 = none)")
    rec.add_argument("--evaluate", action="store_true", help="cross-validate the recommendation and show its real score")
    rec.add_argument("--llm", default=cli_default("llm"), help=cli_help("llm"))
    rec.add_argument("--folds", type=int, default=cli_default("folds"), help=cli_help("folds", " for --evaluate"))
    rec.add_argument("--seed", type=int, default=cli_default("seed"), help=cli_help("seed"))
    rec.add_argument("--out", help="write the result as JSON to this file")
    rec.set_defaults(handler=run_recommend)

    chat = sub.add_parser("chat", help="a conversation: tune, recommend, explain, status (resumable by thread)",
                          description="Talk to TuneGraph in plain language or with /commands; the conversation "
                          "is saved and resumes with --thread NAME.")
    chat.add_argument("--thread", help="conversation name; an existing one resumes (default: chat-<time>)")
    chat.add_argument("--llm", default=cli_default("llm"), help=cli_help("llm"))
    chat.add_argument("--trials", type=int, default=cli_default("trials"), help=cli_help("trials"))
    chat.add_argument("--folds", type=int, default=cli_default("folds"), help=cli_help("folds"))
    chat.add_argument("--confirm-above", type=float, default=cli_default("confirm_above_s"), metavar="SECONDS",
                      help=cli_help("confirm_above_s"))
    chat.add_argument("--storage", default=cli_default("storage"), help=cli_help("storage"))
    chat.set_defaults(handler=run_chat)

    studio = sub.add_parser("studio", help="serve the graphs to LangGraph Studio (langgraph dev, loopback, offline)")
    studio.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    studio.add_argument("--port", type=int, default=2024)
    studio.add_argument("--browser", action="store_true", help="open Studio in a browser")
    studio.set_defaults(handler=run_studio)

    dash = sub.add_parser("dashboard", help="look at the studies in optuna-dashboard (loopback)",
                          description="Serve optuna-dashboard for TuneGraph's studies on 127.0.0.1: each trial's "
                          "source and the LLM's reasoning are its user attributes.")
    dash.add_argument("--storage", default=cli_default("storage"), help=cli_help("storage"))
    dash.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    dash.add_argument("--port", type=int, default=8080)
    dash.set_defaults(handler=run_dashboard)
    plot = sub.add_parser("plot", help="a study's optimization history and parameter importances as PNG files",
                          description="Write STUDY's optimization history and hyperparameter importances with "
                          "Optuna's matplotlib plots.")
    plot.add_argument("study", help="study name (from tunegraph optimize)")
    plot.add_argument("--storage", default=cli_default("storage"), help=cli_help("storage"))
    plot.add_argument("--out", default=".", help="folder for <study>-history.png and <study>-importances.png")
    plot.set_defaults(handler=run_plot)

    meta = sub.add_parser("metadata", help="the meta-dataset of past experiments: build, info")
    meta_sub = meta.add_subparsers(dest="metadata_command", required=True)
    build = meta_sub.add_parser("build", help="run cross-validated experiments over a folder of data sets",
                                description="Build (or resume building) the meta-dataset from every data set "
                                "listed in DIR/index.json.")
    build.add_argument("--datasets", required=True, help="folder with index.json and the data files")
    build.add_argument("--families", nargs="+", default=None,
                       help="model families (default: xgboost lightgbm random_forest extra_trees hist_gradient_boosting "
                       "linear knn; 'linear' = logistic_regression or ridge by task)")
    build.add_argument("--configs-per-family", type=int, default=30, help="configurations per family and data set")
    build.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    build.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    build.add_argument("--max-rows", type=int, default=5000, help="subsample larger data sets to this many rows")
    build.add_argument("--only", nargs="+", help="only these data sets of the index")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--out", default="data/metadataset.parquet", help="output Parquet file")
    build.set_defaults(handler=run_metadata_build)
    matrix = meta_sub.add_parser("matrix", help="cross-validate one shared pool of configurations on every data set",
                                 description="Build (or resume building) the configuration matrix that greedy "
                                 "portfolios are chosen from: each family's pool (library defaults, the best "
                                 "configuration of every meta-dataset task, Sobol samples) on every data set of "
                                 "DIR/index.json.")
    matrix.add_argument("--datasets", required=True, help="folder with index.json and the data files")
    matrix.add_argument("--families", nargs="+", default=None,
                        help="model families (default: xgboost lightgbm random_forest extra_trees "
                        "hist_gradient_boosting linear knn)")
    matrix.add_argument("--pool-from", help="meta-dataset whose best configurations join the pool (default: shipped)")
    matrix.add_argument("--min-configs", type=int, default=40, help="configurations per family at least (default 40)")
    matrix.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    matrix.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    matrix.add_argument("--max-rows", type=int, default=5000, help="subsample larger data sets to this many rows")
    matrix.add_argument("--only", nargs="+", help="only these data sets of the index")
    matrix.add_argument("--seed", type=int, default=0)
    matrix.add_argument("--out", default="data/config_matrix.parquet", help="output Parquet file")
    matrix.add_argument("--no-learner", action="store_true",
                        help="do not fit the meta-learner saved beside the matrix (metalearner/)")
    matrix.set_defaults(handler=run_metadata_matrix)
    info = meta_sub.add_parser("info", help="what the meta-dataset holds (shipped file and your additions)")
    info.add_argument("--path", help="one meta-dataset file (default: the shipped one with your layer over it)")
    info.add_argument("--importance", action="store_true", help="train the meta-learner, print SHAP importance")
    info.add_argument("--plot", help="write the meta-learner's SHAP summary plot to this PNG")
    info.set_defaults(handler=run_metadata_info)
    add = meta_sub.add_parser("add", help="add a finished optimization study's trials to your meta-dataset layer")
    add.add_argument("study", help="study name (from tunegraph optimize)")
    add.add_argument("--storage", default="", help="Optuna storage URL (default: sqlite:///.tunegraph/studies.db)")
    add.set_defaults(handler=run_metadata_add)
    return parser


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", help="built-in data set: breast_cancer, wine, iris, digits, diabetes")
    data.add_argument("--data", help="a CSV or Parquet file (with --target)")
    parser.add_argument("--target", help="the column to predict (for --data)")
    parser.add_argument("--task-type", choices=["classification", "regression"], help="override the inferred task type")


def _data_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """The data part of a graph's input from the command line; unset values left out."""
    inputs = {"dataset": args.dataset, "data_path": str(Path(args.data).resolve()) if args.data else None,
              "target": args.target, "task_type": args.task_type}
    return {k: v for k, v in inputs.items() if v}


def _error(message: str) -> int:
    print(f"tunegraph: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_optimize(args: argparse.Namespace) -> int:
    from tunegraph.tools.llm.client import LLMConfigError
    from tunegraph.tools.trials.runs import check_study_name, default_study_name, run_for
    from tunegraph.tools.ml.search_space import SearchSpaceError
    from tunegraph.tools.ml.tasks import TaskError

    if args.trials < 1:
        return _error(f"--trials must be at least 1, got {args.trials}")
    if args.warm_start < 0:
        return _error(f"--warm-start must be >= 0, got {args.warm_start}")
    if args.folds < 2:
        return _error(f"--folds must be at least 2, got {args.folds}")
    if args.fail_fast < 0:
        return _error(f"--fail-fast must be >= 0, got {args.fail_fast}")
    if not 0.0 <= args.p_llm <= 1.0:
        return _error(f"--p-llm must be within [0, 1], got {args.p_llm}")
    if args.data and not args.target:
        return _error("--data needs --target COLUMN: the column to predict")
    inputs = {**_data_inputs(args), "model": args.model, **({"metric": args.metric} if args.metric else {})}
    inputs["study_name"] = args.study or default_study_name(inputs)
    from tunegraph.graphs.context import Context, cli_default

    context = Context(llm=args.llm, sampler=args.sampler, p_llm=args.p_llm, trials=args.trials,
                      time_budget=args.time_budget, patience=args.patience, fail_fast=args.fail_fast,
                      pruner=args.pruner,
                      seed=args.seed, folds=args.folds,
                      warm_start=args.warm_start, learn=cli_default("learn") and not args.no_learn,
                      portfolio=args.portfolio, adaptive_share=cli_default("adaptive_share") and not args.fixed_share,
                      space_box=cli_default("space_box") and not args.full_space,
                      trial_timeout=args.trial_timeout, init_configs=args.init_configs, storage=args.storage)
    from tunegraph.tools.trials.distributed import StorageError, WorkerBusy

    try:
        check_study_name(inputs["study_name"])
        if args.worker:
            check_study_name(args.worker)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = run_for(inputs, context)
    except (TaskError, LLMConfigError, SearchSpaceError, ValueError, StorageError) as exc:
        return _error(str(exc))
    try:
        return _drive(inputs, context, run, args)
    except WorkerBusy as exc:
        return _error(str(exc))


def _drive(inputs: dict[str, Any], context, run, args: argparse.Namespace) -> int:
    from rich.console import Console

    from tunegraph.graphs.optimize import builder
    from tunegraph.tools.trials.distributed import checkpoint_thread_lock, mask_url
    from tunegraph.tools.trials.runs import default_checkpoints, open_checkpoints

    console = Console(stderr=True, quiet=args.quiet)
    thread_id = inputs["study_name"] + (f"@{args.worker}" if args.worker else "")  # workers of a study: one each
    config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 100_000}
    started = time.perf_counter()
    llm_name = run.llm.name if run.llm else "none (deterministic policies)"
    with checkpoint_thread_lock(default_checkpoints().parent, thread_id), \
            open_checkpoints(default_checkpoints()) as saver:
        graph = builder.compile(checkpointer=saver)
        snapshot = graph.get_state(config)
        resuming = bool(snapshot.next)
        done_before = len([t for t in run.study.trials if t.state.is_finished()])
        console.print(f"[bold]study[/bold] {inputs['study_name']}  [bold]task[/bold] {run.task.describe()}"
                      + (f"  [bold]storage[/bold] {mask_url(args.storage)}" if args.storage else "")
                      + (f"  [bold]worker[/bold] {args.worker}" if args.worker else ""))
        console.print(f"[bold]model[/bold] {run.family.name}  [bold]metric[/bold] {run.metric.name} "
                      f"({run.metric.direction})  [bold]sampler[/bold] {context.sampler}  [bold]LLM[/bold] {llm_name}"
                      + (f"  [yellow]resuming after {done_before} finished trials[/yellow]" if resuming or done_before else ""))
        if not done_before:
            console.print(f"[bold]plan[/bold] {_plan(run, context, args.trials)}")
        if len(run.task.y) >= LARGE_ROWS and done_before < args.trials:
            _say_estimate(run, context, args.trials - done_before, console)
        try:
            with _each_warning_once():
                _stream(graph, None if resuming else inputs, config, context, console, done_before, args.trials)
        except KeyboardInterrupt:  # the note shows with --quiet too: it says how to resume
            Console(stderr=True).print(f"\n[yellow]interrupted[/yellow]: finished trials are saved in the study. "
                                       f"Resume with: tunegraph optimize ... --study {inputs['study_name']}"
                                       + (f" --worker {args.worker}" if args.worker else ""))
            _report(run, graph.get_state(config).values, time.perf_counter() - started, console, args)
            return EXIT_INTERRUPTED
        final = graph.get_state(config).values
    _report(run, final, time.perf_counter() - started, console, args)
    if final.get("n_done") and final.get("n_failed") == final.get("n_done"):  # no result: say why, and exit non-zero
        from tunegraph.agents.summarizer import failure_reasons, finished_trials

        top = failure_reasons(finished_trials(run.study), limit=1)
        print(f"tunegraph: error: no trial succeeded ({final['n_failed']} failed); most common reason"
              + (f" ({top[0][1]} of {final['n_failed']}): {top[0][0]}" if top else ": none recorded"), file=sys.stderr)
        return EXIT_NO_RESULT
    return 0


def _plan(run, context, trials: int) -> str:
    """What the run will do, in one line (said before the first trial)."""
    from tunegraph.agents.initializer import portfolio_size

    what = (f"the family and its hyperparameters together ({', '.join(run.family.members)})"
            if run.bounds.conditional else f"{run.family.name}'s hyperparameters")
    k = min(portfolio_size(context.portfolio, trials), trials)
    start = (f"up to {k} configurations of the task's zero-shot portfolio first (when the configuration matrix "
             f"knows its task type), then {context.sampler}" if k else f"the Initializer's start, then {context.sampler}")
    where = (" in the box of past tasks' best configurations where the meta-dataset has them (--full-space: "
             "everywhere)" if context.space_box
             else "")
    return f"search {what}: {start}{where}, {trials} trials in all"


@contextlib.contextmanager
def _each_warning_once():
    """Show each warning once in a run: one about the data (a rare class) comes from every trial.

    Python's own "once" does not hold here: each fold's ``catch_warnings`` changes the filters,
    which clears the record of what was shown, so the warning came back with every trial.
    """
    shown: set[tuple[type, str]] = set()
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if (category, str(message)) not in shown:
            shown.add((category, str(message)))
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


LARGE_ROWS = 10_000  # from here on a run says, before its first trial, about how long it will take


def _say_estimate(run, context, trials: int, console) -> None:
    from tunegraph.agents.chat import estimate_seconds

    try:
        total = estimate_seconds(run.task, run.family.name, trials, context)
    except Exception:  # an estimate must never stop a run
        return
    per_trial = total / max(trials, 1)
    console.print(f"[bold]estimate[/bold] {len(run.task.y):,} rows: about {_seconds(per_trial)} per trial, "
                  f"{_seconds(total)} for {trials} trials ({context.folds}-fold CV; from the meta-learner's predicted "
                  "fit time)" + ("" if context.pruner != "none" else "; --pruner median stops weak trials after a fold"))


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else (f"{value / 60:.0f} min" if value < 7200 else f"{value / 3600:.1f} h")


def _stream(graph, inputs, config, context, console, done_before: int, total: int) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tunegraph.graphs.ctrl_c import CtrlC

    columns = [TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[status]}")]
    last: dict[str, Any] = {}
    say = console if not console.quiet else Console(stderr=True)  # through the bar's console: it stays intact

    def on_first_press() -> None:
        say.print("[yellow]stopping after the current step[/yellow] (Ctrl-C again to stop at once) ...")

    with CtrlC(on_first_press) as ctrl_c, Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("trials", total=total, completed=min(done_before, total), status="")
        for update in graph.stream(inputs, config, context=context, stream_mode="updates"):
            for node, values in update.items():
                values = values or {}
                last.update(values)
                if node == "initialize":
                    progress.update(bar, status="initial configurations ready")
                elif node == "llm_propose":
                    progress.update(bar, status="LLM proposed a configuration")
                elif node == "summarize" and values.get("n_done") is not None:
                    progress.update(bar, completed=min(values["n_done"], total), status=_status(last))
            ctrl_c.check()  # after Ctrl-C: the step that was running is saved, the run stops here


def _status(state: dict[str, Any]) -> str:
    best, result = state.get("best_value"), state.get("last_result") or {}
    text = f"best {best:.5g}" if best is not None else "no result yet"
    if result:
        outcome = f"{result['value']:.5g}" if result.get("value") is not None else result.get("status")
        text += f" | last trial ({result.get('source')}): {outcome}"
    return text


def run_recommend(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from tunegraph.graphs.context import Context
    from tunegraph.tools.llm.client import LLMConfigError
    from tunegraph.tools.meta.metadataset import MetaDatasetError
    from tunegraph.tools.meta.metalearner import MetaLearnerError
    from tunegraph.tools.trials.runs import get_llm
    from tunegraph.tools.ml.tasks import TaskError

    if args.data and not args.target:
        return _error("--data needs --target COLUMN: the column to predict")
    if args.time_budget < 0:
        return _error(f"--time-budget must be >= 0, got {args.time_budget}")
    extra = {"metric": args.metric, "families": args.families, "time_budget_s": args.time_budget,
             "evaluate": args.evaluate}
    inputs = {**_data_inputs(args), **{k: v for k, v in extra.items() if v}}
    context = Context(llm=args.llm, folds=args.folds, seed=args.seed)
    console = Console(stderr=True)
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from tunegraph.agents.retriever import allowed_families, load_user_task
            from tunegraph.tools.trials.evaluation import get_metric

            task = load_user_task(inputs)
            allowed_families(inputs.get("families"), task.task_type)
            get_metric(inputs.get("metric"), task)
            get_llm(context.llm)
            from tunegraph.graphs.recommend import graph

            with console.status("retrieving evidence and asking the recommender ..."):
                state = graph.invoke(inputs, context=context)
    except (TaskError, LLMConfigError, MetaDatasetError, MetaLearnerError, ValueError) as exc:
        return _error(str(exc))
    wall = time.perf_counter() - started
    final, evaluation = state["final"], state.get("evaluation")
    judgement = final["judgement"]
    table = Table(title=f"TuneGraph recommendation for {task.name}", show_header=False)
    table.add_row("model family", final["family"])
    table.add_row("hyperparameters", json.dumps(final["params"]))
    table.add_row("expected", f"normalized score {final['expected_score']:.3f} (1 = best known on similar data), "
                  f"fit time {final['expected_fit_time_s']:.2g} s")
    if evaluation:
        table.add_row(f"cross-validated {evaluation['metric']}",
                      f"{evaluation['mean']:.5g} ± {evaluation['std']:.2g} (fit {evaluation['fit_time']:.2g} s)"
                      if evaluation["status"] == "ok" else f"{evaluation['status']}: {evaluation['error']}")
    table.add_row("justification", final["justification"])
    scores = judgement.get("scores")
    table.add_row("judge", (f"format {scores['format']}, consistency {scores['consistency']}, completeness "
                            f"{scores['completeness']}; " if scores else "") +
                  f"checks passed {sum(c['passed'] for c in judgement['checks'])}/{len(judgement['checks'])}, "
                  f"score {judgement['score']:.2f} ({'accepted' if judgement['passed'] else 'best of the rounds'})")
    if judgement.get("critique"):
        table.add_row("critique", judgement["critique"])
    table.add_row("produced by", f"{final['source']} in {final['rounds']} round(s)")
    llm = state.get("llm") or {}
    if llm.get("calls"):
        table.add_row("LLM", f"{int(llm['calls'])} calls, {int(llm.get('invalid', 0))} invalid, "
                      f"{int(llm.get('fallbacks', 0))} fallbacks, {llm.get('latency_s', 0):.1f} s")
    table.add_row("response time", f"{wall:.1f} s")
    Console().print(table)
    if args.out:
        Path(args.out).write_text(json.dumps({"final": final, "evaluation": evaluation, "evidence": state["evidence"],
                                              "attempts": state["attempts"], "llm": llm, "response_time_s": wall},
                                             indent=2, default=str))
    return 0


def run_dashboard(args: argparse.Namespace) -> int:
    from optuna_dashboard import run_server

    from tunegraph.tools.trials.distributed import mask_url
    from tunegraph.tools.trials.runs import default_storage

    storage = args.storage or default_storage()
    print(f"optuna-dashboard for {mask_url(storage)} on http://{args.host}:{args.port}/dashboard "
          "(Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        run_server(storage, host=args.host, port=args.port)
    except KeyboardInterrupt:
        pass
    return 0


def run_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files, not windows
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as oplt

    from tunegraph.tools.trials.runs import default_storage

    storage = args.storage or default_storage()
    try:
        study = optuna.load_study(study_name=args.study, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        return _error(f"no study named '{args.study}'; studies are: {', '.join(names[:20]) or 'none'}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        oplt.plot_optimization_history(study)
        written.append(out / f"{args.study}-history.png")
        plt.savefig(written[-1], bbox_inches="tight", dpi=120)
        plt.close("all")
        complete = [t for t in study.trials if t.state.name == "COMPLETE"]
        if len(complete) >= 2 and len({json.dumps(t.params, sort_keys=True) for t in complete}) >= 2:
            try:
                oplt.plot_param_importances(study)
                written.append(out / f"{args.study}-importances.png")
                plt.savefig(written[-1], bbox_inches="tight", dpi=120)
            except (RuntimeError, ValueError) as exc:  # e.g. every parameter constant
                print(f"tunegraph: no importances plot: {exc}", file=sys.stderr)
            plt.close("all")
        else:
            print("tunegraph: no importances plot: it needs two completed trials with different parameters",
                  file=sys.stderr)
    for path in written:
        print(path)
    return 0


def run_chat(args: argparse.Namespace) -> int:
    from tunegraph.graphs.chat_cli import run_chat as chat_loop
    from tunegraph.tools.trials.runs import check_study_name
    from tunegraph.tools.ml.tasks import TaskError

    if args.trials < 1 or args.folds < 2:
        return _error("--trials must be >= 1 and --folds >= 2")
    if args.thread:
        try:
            check_study_name(args.thread)
        except TaskError as exc:
            return _error(str(exc).replace("study name", "thread name").replace("--study", "--thread"))
    from tunegraph.graphs.context import Context

    context = Context(llm=args.llm, trials=args.trials, folds=args.folds, confirm_above_s=args.confirm_above,
                      storage=args.storage)
    warnings.simplefilter("ignore")
    from tunegraph.tools.llm.client import LLMConfigError
    from tunegraph.tools.trials.runs import get_llm

    try:
        get_llm(context.llm)  # an unreachable server or a missing model file: say so now, not mid-conversation
    except LLMConfigError as exc:
        return _error(str(exc))
    return chat_loop(args.thread, context)


def run_studio(args: argparse.Namespace) -> int:
    from tunegraph.graphs.chat_cli import main_studio

    return main_studio(args.host, args.port, args.browser)


def run_metadata_build(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tunegraph.tools.meta.metabuild import DEFAULT_FAMILIES, build_metadataset
    from tunegraph.tools.meta.metadataset import MetaDatasetError
    from tunegraph.tools.ml.tasks import TaskError

    console = Console(stderr=True)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[last]}"), console=console) as progress:
        bar = progress.add_task("data set x family", total=None, last="")

        def on_progress(unit, ok, failed, done, total):
            progress.update(bar, total=total, completed=done,
                            last=f"{unit.dataset}/{unit.family}: {ok} ok, {failed} failed")

        try:
            summary = build_metadataset(args.datasets, args.out, tuple(args.families or DEFAULT_FAMILIES),
                                        args.configs_per_family, args.folds, args.jobs, args.max_rows, args.seed,
                                        only=args.only, on_progress=on_progress)
        except (TaskError, MetaDatasetError) as exc:
            return _error(str(exc))
    print(json.dumps({**summary, "path": args.out, "wall_time_s": round(time.perf_counter() - started, 1)}, indent=2))
    return 0


def run_metadata_matrix(args: argparse.Namespace) -> int:
    from tunegraph.tools.meta.config_matrix import MATRIX_FAMILIES, build_matrix
    from tunegraph.tools.meta.metadataset import MetaDatasetError
    from tunegraph.tools.ml.tasks import TaskError

    if args.min_configs < 1:
        return _error(f"--min-configs must be at least 1, got {args.min_configs}")

    def on_progress(dataset, family, cells, done, total, seconds):
        eta = seconds / done * (total - done)  # one line per unit: readable in a log file as at a terminal
        print(f"[{done}/{total}] {dataset}/{family}: {cells} cells; {seconds / 60:.1f} min elapsed, "
              f"about {eta / 60:.0f} min left", file=sys.stderr, flush=True)

    try:
        summary = build_matrix(args.datasets, args.out, tuple(args.families or MATRIX_FAMILIES), args.pool_from,
                               args.min_configs, args.folds, args.jobs, args.max_rows, args.seed, only=args.only,
                               on_progress=on_progress)
        if not args.no_learner:
            from tunegraph.tools.meta.knowledge import fit_shipped_learner

            print("fitting the meta-learner on the meta-dataset and the matrix", file=sys.stderr, flush=True)
            summary["metalearner"] = str(fit_shipped_learner(args.pool_from or Path(args.out).with_name(
                "metadataset.parquet"), args.out))
    except (TaskError, MetaDatasetError) as exc:
        return _error(str(exc))
    print(json.dumps({**summary, "path": args.out}, indent=2))
    return 0


def run_metadata_info(args: argparse.Namespace) -> int:
    from tunegraph.tools.meta import metadataset

    try:
        frame = metadataset.load(args.path) if args.path else metadataset.load_layers()
    except metadataset.MetaDatasetError as exc:
        return _error(str(exc))
    paths = [args.path] if args.path else [str(p) for p in (metadataset.shipped_path(), metadataset.user_path())
                                           if p.exists()]
    info: dict[str, Any] = {"paths": paths, **metadataset.summary(frame)}
    if args.importance or args.plot:
        from tunegraph.tools.meta.metalearner import MetaLearner

        learner = MetaLearner().fit(frame)
        info["shap_importance"] = {name: round(v, 4) for name, v in learner.global_importance(frame)[:15]}
        if args.plot:
            info["plot"] = str(learner.plot_summary(frame, args.plot))
    print(json.dumps(info, indent=2))
    return 0


def run_metadata_add(args: argparse.Namespace) -> int:
    import optuna

    from tunegraph.tools.meta import metadataset
    from tunegraph.tools.trials.distributed import StorageError, is_rdb, mask_url, open_storage
    from tunegraph.tools.trials.runs import default_storage

    storage = args.storage or default_storage()
    try:
        study = optuna.load_study(study_name=args.study, storage=open_storage(storage) if is_rdb(storage) else storage)
    except StorageError as exc:
        return _error(str(exc))
    except KeyError:
        return _error(f"no study named '{args.study}' in {mask_url(storage)}")
    try:
        records = metadataset.records_from_study(study)
        frame = metadataset.append(metadataset.user_path(), records)
    except metadataset.MetaDatasetError as exc:
        return _error(str(exc))
    print(f"added {len(records)} experiments of '{args.study}' to {metadataset.user_path()} ({len(frame)} rows)")
    return 0


def _report(run, state: dict[str, Any], wall: float, console, args) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()  # the result goes to stdout, progress and notes to stderr

    from tunegraph.tools.llm.answers import shown_number
    from tunegraph.tools.trials.distributed import counts

    finished = [t for t in run.study.trials if t.state.is_finished()]
    trials = [t for t in finished if counts(t)]  # a trial abandoned by a dead worker was re-queued: not counted
    abandoned = len(finished) - len(trials)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    by_source = Counter(t.user_attrs.get("source", "?") for t in trials)
    llm = state.get("llm") or {}
    best = None
    if complete:
        best = run.study.best_trial
    table = Table(title=f"TuneGraph result: {run.study.study_name}", show_header=False)
    best_row = "no successful trial"
    if best:  # the trial number as the progress line counts, from 1; --out keeps Optuna's own
        best_row = f"{best.value:.6g} (trial {shown_number(best.number)}, {best.user_attrs.get('source')})"
    table.add_row("best " + run.metric.name, best_row)
    from tunegraph.tools.ml.cash import best_per_family

    families = best_per_family(complete, run.metric.direction)
    if best:
        if families:  # the search across families: which won, and each family's best
            table.add_row("best family", str(best.params.get("family")))
        table.add_row("best configuration", json.dumps(best.params))
        if best.user_attrs.get("cv_std") is not None:
            table.add_row("CV std", f"{best.user_attrs['cv_std']:.4g}")
    pruned = sum(1 for t in trials if t.state.name == "PRUNED")
    table.add_row("trials", f"{len(trials)} finished ({len(trials) - len(complete) - pruned} failed"
                  + (f", {pruned} pruned after a fold" if pruned else "") + ")"
                  + (f", {abandoned} abandoned by a dead worker and run again" if abandoned else ""))
    if families:
        ranked = sorted(families.items(), key=lambda kv: kv[1][1], reverse=run.metric.direction == "maximize")
        table.add_row("best per family", "\n".join(f"{f}: {v:.6g} (trial {shown_number(n)})" for f, (n, v) in ranked))
    table.add_row("trials by source", ", ".join(f"{k}: {v}" for k, v in sorted(by_source.items())) or "-")
    from tunegraph.agents.summarizer import failure_reasons

    reasons = failure_reasons(trials)
    if reasons:  # the most common first: one model error usually explains most failures
        table.add_row("failure reasons", "\n".join(f"{count} x {_shorten(reason, 160)}" for reason, count in reasons))
    calls = int(llm.get("calls", 0))
    table.add_row("LLM", (run.llm.name if run.llm else "none") + (
        f": {calls} calls, {int(llm.get('invalid', 0))} invalid answers, {int(llm.get('errors', 0))} errors, "
        f"{int(llm.get('fallbacks', 0))} fallbacks, mean latency {llm.get('latency_s', 0) / calls:.2f} s"
        if calls else ": not called" if run.llm else ""))  # the resolved LLM; the default tpe path never asks it
    from tunegraph.agents.llm_ask import fault_counts

    faults = fault_counts(llm)
    if faults:  # every LLM fault by kind: errors (timeout, connection, ...) and rejected answers
        table.add_row("LLM faults", ", ".join(f"{k}: {v}" for k, v in faults.items()))
    table.add_row("stopped because", str(state.get("stop_reason") or "interrupted"))
    table.add_row("wall time", f"{wall:.1f} s")
    out.print(table)
    if args.out:
        result = {
            "study": run.study.study_name, "task": run.task.name, "model": run.family.name,
            "metric": run.metric.name, "direction": run.metric.direction,
            "best_value": best.value if best else None, "best_params": best.params if best else None,
            "best_trial": best.number if best else None, "n_trials": len(trials),
            "best_family": best.params.get("family", run.family.name) if best else None,
            "best_per_family": {f: {"trial": n, "value": v} for f, (n, v) in families.items()},
            "n_failed": len(trials) - len(complete) - pruned, "n_pruned": pruned, "n_abandoned": abandoned, "trials_by_source": dict(by_source),
            "failure_reasons": [{"reason": reason, "count": count} for reason, count in reasons],
            "llm": llm,
            "llm_faults": faults, "llm_model": run.llm.name if run.llm else None,
            "stop_reason": state.get("stop_reason"),
            "wall_time_s": wall, "search_space": state.get("search_space"),
            "trials": [{"number": t.number, "value": t.value, "state": t.state.name, "params": t.params,
                        "source": t.user_attrs.get("source"), "reasoning": t.user_attrs.get("reasoning"),
                        **({"error": t.user_attrs["error"]} if t.user_attrs.get("error") else {})}
                       for t in trials],
        }
        Path(args.out).write_text(json.dumps(result, indent=2, default=str))
        console.print(f"result written to {args.out}")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


if __name__ == "__main__":
    sys.exit(main())
