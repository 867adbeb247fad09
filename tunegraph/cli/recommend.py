"""``tunegraph recommend``: the recommend graph's zero-shot answer, with its evidence and the judge's view."""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import cast

from rich.console import Console
from rich.table import Table

from tunegraph.agents.retriever import load_user_task
from tunegraph.cli.common import data_inputs
from tunegraph.context import Context
from tunegraph.errors import EXIT_OK, InputError
from tunegraph.graphs.recommend import graph
from tunegraph.state import RecommendInput
from tunegraph.tools.ml.models import allowed_families
from tunegraph.tools.trials.evaluation import get_metric
from tunegraph.tools.trials.runs import get_llm


def run(args: argparse.Namespace) -> int:
    if args.time_budget < 0:
        raise InputError(f"--fit-time-budget must be >= 0, got {args.time_budget}")
    extra = {"metric": args.metric, "families": args.families, "time_budget_s": args.time_budget,
             "evaluate": args.evaluate}
    inputs = {**data_inputs(args), **{k: v for k, v in extra.items() if v}}
    context = Context(llm=args.llm, folds=args.folds, seed=args.seed)
    console = Console(stderr=True)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = load_user_task(inputs)  # bad data, families, metric or LLM: said before the graph starts
        allowed_families(inputs.get("families"), task.task_type)
        get_metric(inputs.get("metric"), task)
        get_llm(context.llm)
        with console.status("retrieving evidence and asking the recommender ..."):
            # the keys are RecommendInput's (data_inputs and the options above), built as a plain dict
            state = graph.invoke(cast(RecommendInput, inputs), context=context)
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
    similar = state["evidence"].get("similar_tasks") or []
    if similar:  # named here, not only in --out: the evidence is about these
        table.add_row("similar data sets", ", ".join(
            f"{s['task']} (distance {s['distance']:.2g}" + (f"; best there: {s['best'][0]['family']} "
                                                            f"{s['best'][0]['metric']} {s['best'][0]['score_mean']:.4g}"
                                                            if s.get("best") else "") + ")" for s in similar))
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
    return EXIT_OK
