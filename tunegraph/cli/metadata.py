"""``tunegraph metadata``: build the meta-dataset and the configuration matrix, show what they
hold, add a finished study's trials to your layer."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tunegraph.cli.common import load_named_study
from tunegraph.errors import EXIT_OK, InputError
from tunegraph.tools.meta import metadataset, user_layer
from tunegraph.tools.meta.config_matrix import MATRIX_FAMILIES, build_matrix
from tunegraph.tools.meta.metabuild import DEFAULT_FAMILIES, build_metadataset


def run(args: argparse.Namespace) -> int:
    return {"build": build, "matrix": matrix, "info": info, "add": add, "remove": remove}[args.metadata_command](args)


def build(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[last]}"), console=console) as progress:
        bar = progress.add_task("data set x family", total=None, last="")

        def on_progress(unit, ok, failed, done, total):
            progress.update(bar, total=total, completed=done,
                            last=f"{unit.dataset}/{unit.family}: {ok} ok, {failed} failed")

        summary = build_metadataset(args.datasets, args.out, tuple(args.families or DEFAULT_FAMILIES),
                                    args.configs_per_family, args.folds, args.jobs, args.max_rows, args.seed,
                                    only=args.only, on_progress=on_progress)
    print(json.dumps({**summary, "path": args.out, "wall_time_s": round(time.perf_counter() - started, 1)}, indent=2))
    return EXIT_OK


def matrix(args: argparse.Namespace) -> int:
    if args.min_configs < 1:
        raise InputError(f"--min-configs must be at least 1, got {args.min_configs}")

    def on_progress(dataset, family, cells, done, total, seconds):
        eta = seconds / done * (total - done)  # one line per unit: readable in a log file as at a terminal
        print(f"[{done}/{total}] {dataset}/{family}: {cells} cells; {seconds / 60:.1f} min elapsed, "
              f"about {eta / 60:.0f} min left", file=sys.stderr, flush=True)

    summary = build_matrix(args.datasets, args.out, tuple(args.families or MATRIX_FAMILIES), args.pool_from,
                           args.min_configs, args.folds, args.jobs, args.max_rows, args.seed, only=args.only,
                           on_progress=on_progress)
    if not args.no_learner:
        from tunegraph.tools.meta.knowledge import fit_shipped_learner

        print("fitting the meta-learner on the meta-dataset and the matrix", file=sys.stderr, flush=True)
        summary["metalearner"] = str(fit_shipped_learner(args.pool_from or Path(args.out).with_name(
            "metadataset.parquet"), args.out))
    print(json.dumps({**summary, "path": args.out}, indent=2))
    return EXIT_OK


def info(args: argparse.Namespace) -> int:
    frame = metadataset.load(args.path) if args.path else metadataset.load_layers()
    paths = [args.path] if args.path else [str(p) for p in (metadataset.shipped_path(), metadataset.user_path())
                                           if p.exists()]
    summary: dict[str, Any] = {"paths": paths, **metadataset.summary(frame)}
    if not args.path:  # your layer, by the study that added it
        summary["your_studies"] = {name: {"task": entry["task"], "records": len(entry["records"]),
                                          "added": entry["added"]} for name, entry in user_layer.studies().items()}
    if args.importance or args.plot:
        from tunegraph.tools.meta.metalearner import MetaLearner

        learner = MetaLearner().fit(frame)
        summary["shap_importance"] = {name: round(v, 4) for name, v in learner.global_importance(frame)[:15]}
        if args.plot:
            summary["plot"] = str(learner.plot_summary(frame, args.plot))
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def add(args: argparse.Namespace) -> int:
    study = load_named_study(args.study, args.storage)  # as plot finds one: a miss says where it looked
    records = metadataset.records_from_study(study)
    rows = user_layer.add_study(args.study, records)
    print(f"added {len(records)} experiments of '{args.study}' to {metadataset.user_path()} ({rows} rows)")
    return EXIT_OK


def remove(args: argparse.Namespace) -> int:
    removed = user_layer.remove_study(args.study)
    print(f"removed {removed} experiments of '{args.study}' from {metadataset.user_path()}")
    return EXIT_OK
