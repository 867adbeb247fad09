"""Recommender agent: a model family and hyperparameters, justified from the retrieved evidence.

The LLM picks one of the meta-learner's candidates (by id), may change hyperparameters, and
writes the justification; its answer is validated against the family's search space. Without
an LLM, or when its answers are unusable, the recommendation is the meta-learner's best
candidate with a justification generated from its SHAP evidence and the similar tasks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from tunegraph.agents.llm_ask import ask_json, new_counts
from tunegraph.context import Context
from tunegraph.prompts import render
from tunegraph.state import RecommendState
from tunegraph.tools.llm.answers import AnswerError, format_config
from tunegraph.tools.ml.models import get_family
from tunegraph.tools.trials.runs import get_llm


class RecommenderAnswer(BaseModel):
    choice: str
    changes: dict[str, Any] = Field(default_factory=dict)
    expected_score: float
    expected_fit_time_s: float
    justification: str = Field(min_length=1)


def recommend(state: RecommendState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: one recommendation (a new round when the judge sent critique back)."""
    ctx = runtime.context
    start = time.perf_counter()
    evidence, counts = state["evidence"], new_counts()
    llm = get_llm(ctx.llm)
    critique = (state.get("judgement") or {}).get("critique") if state.get("attempts") else None
    answer = None
    if llm is not None:
        answer = llm_recommendation(llm, state, evidence, critique, ctx.llm_retries, counts)
        if answer is None:
            counts["fallbacks"] += 1
    if answer is None:
        answer = meta_learner_recommendation(evidence)
    return {"recommendation": answer, "llm": counts, "round": int(state.get("round") or 0) + 1,
            "elapsed_s": time.perf_counter() - start}


def llm_recommendation(llm, state: Mapping[str, Any], evidence: dict[str, Any], critique: str | None,
                       retries: int, counts: dict[str, float]) -> dict[str, Any] | None:
    candidates = {c["id"]: c for c in evidence["candidates"]}
    budget = evidence.get("time_budget_s")
    prompt = render(
        "recommender", task=state.get("task_summary", ""), metric=state.get("metric") or "the default metric",
        families=", ".join(state.get("families") or []),
        budget=f" Fit-time budget: {budget:g} s per fit." if budget else "",
        similar=similar_text(evidence), candidates=candidates_text(evidence),
        feedback=f"A reviewer rejected your previous answer: {critique}" if critique else "")
    # "changes" (hyperparameter edits) is accepted when a model sends it, but left out of the
    # grammar: a free-form object makes llama.cpp's constrained decoding very slow (minutes).
    schema = {"type": "object", "properties": {
        "choice": {"enum": list(candidates)}, "expected_score": {"type": "number"},
        "expected_fit_time_s": {"type": "number"}, "justification": {"type": "string", "maxLength": 400}},
        "required": ["choice", "expected_score", "expected_fit_time_s", "justification"]}

    def accept(data: dict) -> dict[str, Any]:
        answer = RecommenderAnswer.model_validate(data)
        if answer.choice not in candidates:
            raise AnswerError(f"choice must be one of {', '.join(candidates)}")
        chosen = candidates[answer.choice]
        space = get_family(chosen["family"]).search_space(state["task_type"])
        changes = {k: v for k, v in answer.changes.items() if k in space.params}
        params, notes = space.clip({**chosen["params"], **changes})
        return {"family": chosen["family"], "params": params, "candidate": answer.choice,
                "expected_score": float(answer.expected_score), "expected_fit_time_s": float(answer.expected_fit_time_s),
                "justification": answer.justification.strip(), "source": "llm", "notes": notes}

    answer, _ = ask_json(llm, prompt, schema, accept, retries, counts, max_tokens=300)
    return answer


def meta_learner_recommendation(evidence: dict[str, Any]) -> dict[str, Any]:
    """The best candidate, justified from its SHAP evidence and the similar tasks (no LLM)."""
    best = evidence["candidates"][0]
    if "record" in best:
        return portfolio_recommendation(evidence)
    reasons = "; ".join(best["shap"][:3]) or "no single feature dominates the prediction"
    similar = [f"{s['task']} (distance {s['distance']})" + (
        f", where {s['best'][0]['family']} reached normalized score {s['best'][0]['score_norm']:.2f}" if s["best"] else "")
        for s in evidence["similar_tasks"]]
    text = (f"{best['family']} {format_config(best['params'])} is the meta-learner's top candidate {best['id']} of "
            f"{len(evidence['candidates'])}: predicted normalized score {best['predicted_score']:.3f} and about "
            f"{best['predicted_fit_time_s']:.2g} s per fit. SHAP: {reasons}. Similar data sets: "
            f"{'; '.join(similar) or 'none'}.")
    return _recommendation_of(best, text, "meta-learner")


def record_text(record: dict[str, Any]) -> str:
    """A portfolio member's record: how it did on the similar data sets and on all of them."""
    near = (f"within 1% of the best on {record['near_best']} of the {record['n_similar']} most similar data sets "
            f"(mean normalized regret {record['similar_mean_regret']:.3f} there)" if record["n_similar"] else
            "no similar data set to compare with")
    return f"{near}, mean regret {record['mean_regret']:.3f} over {record['n_tasks']} data sets"


def _origin_text(origin: str) -> str:
    kind = origin.split(":", 1)[1] if ":" in origin else origin
    if kind.startswith("best:"):
        return f"the best configuration found on {kind[5:]}"
    return {"default": "the library defaults", "sobol": "a space-filling sample"}.get(kind, kind)


def portfolio_recommendation(evidence: dict[str, Any]) -> dict[str, Any]:
    """The portfolio's first member, justified from its record, the meta-learner and SHAP (no LLM)."""
    best = evidence["candidates"][0]
    reasons = "; ".join(best["shap"][:2]) or "no single feature dominates the prediction"
    text = (f"{best['family']} {format_config(best['params'])} leads this task's greedy portfolio of "
            f"{evidence.get('portfolio_size', len(evidence['candidates']))} shared configurations "
            f"({_origin_text(best['origin'])}): {record_text(best['record'])}. The meta-learner predicts normalized "
            f"score {best['predicted_score']:.3f} and about {best['predicted_fit_time_s']:.2g} s per fit. SHAP: {reasons}.")
    return _recommendation_of(best, text, "portfolio")


def _recommendation_of(candidate: dict[str, Any], justification: str, source: str) -> dict[str, Any]:
    """A recommendation that takes a candidate as it is, with its predictions as the expectations."""
    return {"family": candidate["family"], "params": candidate["params"], "candidate": candidate["id"],
            "expected_score": candidate["predicted_score"], "expected_fit_time_s": candidate["predicted_fit_time_s"],
            "justification": justification, "source": source, "notes": []}


def similar_text(evidence: dict[str, Any]) -> str:
    lines = []
    for s in evidence["similar_tasks"]:
        best = s["best"][0] if s["best"] else None
        lines.append(f"- {s['task']} (distance {s['distance']}): " + (
            f"{best['family']} {format_config(best['params'])} scored {best['score_norm']:.2f}" if best else "no result"))
    return "\n".join(lines) or "(none)"


def candidates_text(evidence: dict[str, Any]) -> str:
    return "\n".join(f"- {c['id']}: {c['family']} {format_config(c['params'])}, "
                     + (f"portfolio member {c['portfolio_rank']}: {record_text(c['record'])}; " if "record" in c else "")
                     + f"predicted score {c['predicted_score']:.3f}, fit time {c['predicted_fit_time_s']:.2g} s. "
                     f"SHAP: {'; '.join(c['shap'][:2])}" for c in evidence["candidates"])


def to_json(recommendation: dict[str, Any]) -> str:
    return json.dumps(recommendation, indent=2, default=str)
