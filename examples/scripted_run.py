"""TuneGraph from a script: ask the recommend graph, then optimize from its advice, streaming progress.

    python examples/scripted_run.py --dataset wine --trials 15 --llm none

The graphs are plain LangGraph graphs: invoke them with an input state and a run context
(tunegraph.context.Context), or stream their updates.
"""

from __future__ import annotations

import argparse
import json

from tunegraph.context import Context
from tunegraph.graphs.optimize import graph as optimize_graph
from tunegraph.graphs.recommend import graph as recommend_graph


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="wine", help="a built-in data set (default: wine)")
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--llm", default="auto", help="ollama:<model>, embedded, none or auto")
    args = parser.parse_args(argv)

    # 1. Zero-shot: which family and hyperparameters, and why (no trial is run).
    advice = recommend_graph.invoke({"dataset": args.dataset}, context=Context(llm=args.llm))
    final = advice["final"]
    print(f"recommended: {final['family']} {json.dumps(final['params'])}")
    print(f"because: {final['justification'][:300]}")

    # 2. Sequential optimization of that family, warm-started with the recommender's top 3.
    context = Context(llm=args.llm, trials=args.trials, warm_start=3, learn=False)
    inputs = {"dataset": args.dataset, "model": final["family"], "study_name": f"example-{args.dataset}"}
    state: dict = {}
    for update in optimize_graph.stream(inputs, context=context, stream_mode="updates"):
        for node, values in update.items():
            state.update(values or {})
            result = state.get("last_result")  # set by the Evaluator, counted by the summarizer
            if node == "summarize" and result and state.get("n_done"):
                value = f"{result['value']:.5g}" if result.get("value") is not None else result.get("status")
                print(f"trial {state['n_done']:>3}/{args.trials} ({result['source']:>6}): {value}  "
                      f"best {state['best_value']:.5g}")
    print(f"best {state['metric']}: {state['best_value']:.5g} with {json.dumps(state['best_params'])} "
          f"({state['stop_reason']})")
    return state


if __name__ == "__main__":
    main()
