"""The command line's arguments, for every command: defaults and help come from ``Context``
(``cli_default``/``cli_help``), and an option several commands share is defined once here.
The command reference in docs/ is generated from this parser, so it cannot drift from ``--help``.
"""

from __future__ import annotations

import argparse

from tunegraph.context import ENSEMBLE, PRUNERS, SAMPLERS, cli_default, cli_help

BUILTIN = "breast_cancer, wine, iris, digits, diabetes"
METRICS = "accuracy, balanced_accuracy, roc_auc, f1, log_loss, rmse, mae, r2"  # tools.trials.evaluation.METRICS
MODEL_HELP = ("model family (xgboost, lightgbm, random_forest, extra_trees, hist_gradient_boosting, "
              "logistic_regression, ridge, knn, svm, mlp, ...), or auto: the family chosen with its "
              "hyperparameters, across the fast families (default: auto)")
ENCODING_HELP = ("the CSV file's text encoding, e.g. cp1252, latin-1, utf-16 (default: UTF-8, else detected, "
                 "with a note naming it)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunegraph", description="Pick a model and its hyperparameters with "
                                     "meta-knowledge, Optuna and, if you want, a local LLM.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_optimize(sub)
    add_predict(sub)
    add_recommend(sub)
    add_chat(sub)
    add_studio(sub)
    add_dashboard(sub)
    add_plot(sub)
    add_metadata(sub)
    return parser


# ---- options several commands share --------------------------------------------------------

def add_data(parser: argparse.ArgumentParser) -> None:
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", help=f"built-in data set: {BUILTIN}")
    data.add_argument("--data", metavar="FILE", help="a CSV or Parquet file (with --target)")
    parser.add_argument("--target", help="the column to predict (for --data)")
    parser.add_argument("--task-type", choices=["classification", "regression"], help="override the inferred task type")
    add_encoding(parser)


def add_encoding(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", metavar="NAME", help=ENCODING_HELP)


def add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default=cli_default("storage"), metavar="URL",
                        help="Optuna storage: a URL, e.g. postgresql://... for several workers, or a journal "
                        "file path (one machine, the fastest), e.g. .tunegraph/studies.journal (default: "
                        "$TUNEGRAPH_STORAGE, else sqlite:///.tunegraph/studies.db in the current folder)")


def add_out(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    parser.add_argument("--out", metavar="FILE", help=f"write {what} as JSON to this file")


def add_folds(parser: argparse.ArgumentParser, extra: str = "") -> None:
    parser.add_argument("--folds", type=int, default=cli_default("folds"), help=cli_help("folds", extra))


def add_llm(parser: argparse.ArgumentParser, extra: str = "") -> None:
    parser.add_argument("--llm", default=cli_default("llm"), help=cli_help("llm", extra))


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=cli_default("seed"), help=cli_help("seed"))


def add_server(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=port, help=f"port (default: {port})")


def setting(parser: argparse.ArgumentParser, option: str, name: str, kind=int, extra: str = "", **kwargs) -> None:
    """An option that sets the Context field ``name``, with its default and help."""
    parser.add_argument(option, type=kind, default=cli_default(name), help=cli_help(name, extra), **kwargs)


# ---- commands ------------------------------------------------------------------------------

def add_optimize(sub) -> None:
    opt = sub.add_parser("optimize", help="tune a model: the portfolio of past tasks first, then TPE (LLM optional)",
                         description="Search a model family and its hyperparameters by cross-validation (SLLMBO), "
                         "then refit the winner on all rows and save it for tunegraph predict.")
    add_data(opt)
    opt.add_argument("--model", default="auto", help=MODEL_HELP)
    opt.add_argument("--metric", help=f"one of {METRICS} (default: roc_auc for two classes, accuracy for more, "
                     "rmse for regression)")
    setting(opt, "--trials", "trials")
    add_llm(opt, "; auto = Ollama if it has the model, else the embedded SmolLM2")
    opt.add_argument("--sampler", default=cli_default("sampler"), choices=SAMPLERS, help=cli_help("sampler"))
    setting(opt, "--p-llm", "p_llm", kind=float)
    opt.add_argument("--fixed-share", action="store_true",
                     help="llm_tpe: the LLM proposes with probability --p-llm throughout, as in older runs "
                     "(default: it earns its share from the study's results, starting at --p-llm)")
    setting(opt, "--patience", "patience")
    opt.add_argument("--time-budget", type=float, default=cli_default("time_budget"), metavar="SECONDS",
                     help="stop the search after this many seconds of work (0: no limit; default: "
                     f"{cli_default('time_budget')!r})")
    opt.add_argument("--pruner", default=cli_default("pruner"), choices=PRUNERS, help=cli_help("pruner"))
    setting(opt, "--fail-fast", "fail_fast", metavar="N", extra=", naming the reason")
    setting(opt, "--warm-start", "warm_start", metavar="K")
    learn = opt.add_mutually_exclusive_group()
    learn.add_argument("--no-learn", action="store_true", help="do not add this run's trials to your meta-dataset layer")
    learn.add_argument("--learn", action="store_true", help="add them even with fewer than "
                       f"{cli_default('learn_min_trials')} completed trials (the default rule leaves a short try out)")
    setting(opt, "--trial-timeout", "trial_timeout", kind=float,
            extra="; the folds then run in a child process, killed if a fold runs on")
    add_folds(opt)
    setting(opt, "--portfolio", "portfolio", metavar="K")
    opt.add_argument("--full-space", action="store_true",
                     help="TPE searches the whole search space (default: the box of past tasks' best "
                     "configurations and the portfolio, which measured better: docs/benchmarks/portfolio.md)")
    setting(opt, "--init-configs", "init_configs")
    add_seed(opt)
    add_storage(opt)
    opt.add_argument("--study", help="study name; an existing one resumes "
                                     "(default: <data>-<model>-<time>-<random>, a new study)")
    opt.add_argument("--worker", help="this worker's name, when several run one study from the same directory: "
                     "each checkpoints and resumes on its own (default: one worker per directory)")
    model = opt.add_mutually_exclusive_group()
    model.add_argument("--save-model", metavar="PATH", default=cli_default("model_path") or None,
                       help="where to save the fitted model (default: .tunegraph/models/<study>.tgm)")
    model.add_argument("--no-model", action="store_true", help="do not refit the winner on all rows and save it")
    opt.add_argument("--ensemble", default=cli_default("ensemble"), choices=ENSEMBLE, help=cli_help("ensemble"))
    add_out(opt)
    opt.add_argument("--quiet", action="store_true", help="no progress bar")


def add_predict(sub) -> None:
    pred = sub.add_parser("predict", help="predict new rows with a model saved by optimize",
                          description="Write FILE's rows with a 'prediction' column in the original labels (and a "
                          "proba_<class> column per class for a classifier), from a model saved by tunegraph optimize.")
    pred.add_argument("--model", required=True, metavar="PATH", help="a model file saved by tunegraph optimize")
    pred.add_argument("--data", required=True, metavar="FILE", help="a CSV or Parquet file with the training columns")
    add_encoding(pred)
    pred.add_argument("--out", metavar="FILE", help="the predictions CSV (default: FILE's name + -predictions.csv, "
                      "beside it)")


def add_recommend(sub) -> None:
    rec = sub.add_parser("recommend", help="zero-shot recommendation: retriever, recommender, LLM-as-judge",
                         description="Recommend a model family and hyperparameters without running trials (MetaLLMiX).")
    add_data(rec)
    rec.add_argument("--metric", help="the metric you care about (default: as for optimize)")
    rec.add_argument("--families", nargs="+", help="allowed model families (default: all that fit the task)")
    rec.add_argument("--fit-time-budget", dest="time_budget", type=float, default=0.0,
                     metavar="SECONDS", help="the most seconds one fit of the recommendation may take (0: no limit)")
    rec.add_argument("--evaluate", action="store_true", help="cross-validate the recommendation and show its real score")
    add_llm(rec)
    add_folds(rec, " for --evaluate")
    add_seed(rec)
    add_out(rec)


def add_chat(sub) -> None:
    chat = sub.add_parser("chat", help="a conversation: tune, recommend, explain, status (resumable by thread)",
                          description="Talk to TuneGraph in plain language or with /commands; the conversation "
                          "is saved and resumes with --thread NAME.")
    chat.add_argument("--thread", help="conversation name; an existing one resumes (default: chat-<time>)")
    add_llm(chat)
    setting(chat, "--trials", "trials")
    add_folds(chat)
    setting(chat, "--confirm-above", "confirm_above_s", kind=float, metavar="SECONDS")
    add_storage(chat)


def add_studio(sub) -> None:
    studio = sub.add_parser("studio", help="serve the graphs to LangGraph Studio (langgraph dev, loopback, offline)",
                            description="Serve the optimize, recommend and chat graphs with the LangGraph API "
                            "server (langgraph dev) on loopback, offline, for LangGraph Studio.")
    add_server(studio, 2024)
    studio.add_argument("--browser", action="store_true", help="open Studio in a browser")


def add_dashboard(sub) -> None:
    dash = sub.add_parser("dashboard", help="look at the studies in optuna-dashboard (loopback)",
                          description="Serve optuna-dashboard for TuneGraph's studies on 127.0.0.1: each trial's "
                          "source and the LLM's reasoning are its user attributes.")
    add_storage(dash)
    add_server(dash, 8080)


def add_plot(sub) -> None:
    plot = sub.add_parser("plot", help="a study's optimization history and parameter importances as PNG files",
                          description="Write STUDY's optimization history and hyperparameter importances with "
                          "Optuna's matplotlib plots.")
    plot.add_argument("study", help="study name (from tunegraph optimize)")
    add_storage(plot)
    plot.add_argument("--out", default=".", metavar="FOLDER",
                      help="folder for <study>-history.png and <study>-importances.png (default: the current folder)")


def add_metadata(sub) -> None:
    meta = sub.add_parser("metadata", help="the meta-dataset of past experiments: build, matrix, info, add, remove",
                          description="Build, inspect and extend the meta-dataset the recommendations learn from.")
    meta_sub = meta.add_subparsers(dest="metadata_command", required=True, metavar="SUBCOMMAND")
    build = meta_sub.add_parser("build", help="run cross-validated experiments over a folder of data sets",
                                description="Build (or resume building) the meta-dataset from every data set "
                                "listed in DIR/index.json.")
    _add_build_options(build, "xgboost lightgbm random_forest extra_trees hist_gradient_boosting linear knn; "
                       "'linear' = logistic_regression or ridge by task", "data/metadataset.parquet")
    build.add_argument("--configs-per-family", type=int, default=30,
                       help="configurations per family and data set (default: 30)")
    matrix = meta_sub.add_parser("matrix", help="cross-validate one shared pool of configurations on every data set",
                                 description="Build (or resume building) the configuration matrix that greedy "
                                 "portfolios are chosen from: each family's pool (library defaults, the best "
                                 "configuration of every meta-dataset task, Sobol samples) on every data set of "
                                 "DIR/index.json.")
    _add_build_options(matrix, "xgboost lightgbm random_forest extra_trees hist_gradient_boosting linear knn",
                       "data/config_matrix.parquet")
    matrix.add_argument("--pool-from", help="meta-dataset whose best configurations join the pool (default: shipped)")
    matrix.add_argument("--min-configs", type=int, default=40, help="configurations per family at least (default: 40)")
    matrix.add_argument("--no-learner", action="store_true",
                        help="do not fit the meta-learner saved beside the matrix (metalearner/)")
    info = meta_sub.add_parser("info", help="what the meta-dataset holds (shipped file and your additions)")
    info.add_argument("--path", help="one meta-dataset file (default: the shipped one with your layer over it)")
    info.add_argument("--importance", action="store_true", help="train the meta-learner, print SHAP importance")
    info.add_argument("--plot", help="write the meta-learner's SHAP summary plot to this PNG")
    add = meta_sub.add_parser("add", help="add a finished optimization study's trials to your meta-dataset layer")
    add.add_argument("study", help="study name (from tunegraph optimize)")
    add_storage(add)
    remove = meta_sub.add_parser("remove", help="take a study's trials back out of your meta-dataset layer",
                                 description="Remove what STUDY added to your meta-dataset layer (records another "
                                 "study added too stay); 'metadata info' lists the studies in your layer.")
    remove.add_argument("study", help="study name, as 'metadata info' lists it")


def _add_build_options(parser: argparse.ArgumentParser, families: str, out: str) -> None:
    parser.add_argument("--datasets", required=True, help="folder with index.json and the data files")
    parser.add_argument("--families", nargs="+", default=None, help=f"model families (default: {families})")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--max-rows", type=int, default=5000, help="subsample larger data sets to this many rows "
                        "(default: 5000)")
    parser.add_argument("--only", nargs="+", help="only these data sets of the index")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument("--out", default=out, help=f"output Parquet file (default: {out})")
