"""Judge agent (LLM-as-judge): scores a recommendation and sends critique back when it falls short.

Deterministic checks always run: the schema, the search-space bounds, the allowed families,
the fit-time budget, and whether the claims match the evidence (expected score and fit time
near the meta-learner's prediction, no data set cited that the evidence does not hold). With an
LLM it also scores format, consistency and completeness from 1 to 5 with a critique.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from tunegraph.agents.llm_ask import ask_json, new_counts
from tunegraph.context import Context
from tunegraph.prompts import render
from tunegraph.state import RecommendState
from tunegraph.tools.ml.models import get_family
from tunegraph.tools.trials.runs import get_llm

SCORE_RANGE = {"type": "integer", "minimum": 1, "maximum": 5}


class JudgeAnswer(BaseModel):
    format: int = Field(ge=1, le=5)
    consistency: int = Field(ge=1, le=5)
    completeness: int = Field(ge=1, le=5)
    critique: str = ""


def judge(state: RecommendState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: check and score the latest recommendation; keep it among the attempts."""
    ctx = runtime.context
    start = time.perf_counter()
    rec, evidence = state["recommendation"], state["evidence"]
    checks = deterministic_checks(rec, evidence, state.get("families") or [], state["task_type"],
                                  state.get("known_tasks") or [])
    failed = [c for c in checks if not c["passed"]]
    counts = new_counts()
    llm = get_llm(ctx.llm)
    scores = llm_scores(llm, rec, evidence, ctx.llm_retries, counts) if llm is not None else None
    if scores is None:
        total = 5.0 - len(failed)
        critique = "; ".join(c["detail"] for c in failed)
    else:
        total = (scores["format"] + scores["consistency"] + scores["completeness"]) / 3 - len(failed)
        critique = "; ".join([c["detail"] for c in failed] + ([scores["critique"]] if scores["critique"] else []))
    judgement = {"scores": scores, "checks": checks, "score": round(total, 3), "critique": critique,
                 "passed": total >= ctx.judge_threshold and not failed, "by": "llm+checks" if scores else "checks"}
    attempts = [*(state.get("attempts") or []), {"recommendation": rec, "judgement": judgement}]
    return {"judgement": judgement, "attempts": attempts, "llm": counts, "elapsed_s": time.perf_counter() - start}


def deterministic_checks(rec: dict[str, Any], evidence: dict[str, Any], families: list[str], task_type: str,
                         known_tasks: list[str]) -> list[dict[str, Any]]:
    out = []

    def check(name: str, passed: bool, detail: str) -> None:
        out.append({"check": name, "passed": bool(passed), "detail": "" if passed else detail})

    required: dict[str, type | tuple[type, ...]] = {
        "family": str, "params": dict, "expected_score": (int, float), "expected_fit_time_s": (int, float),
        "justification": str}
    bad = [k for k, t in required.items() if not isinstance(rec.get(k), t)]
    check("schema", not bad, f"missing or mistyped fields: {', '.join(bad)}")
    if bad:
        return out
    check("family allowed", rec["family"] in families, f"family {rec['family']} is not among {', '.join(families)}")
    try:
        inside = get_family(rec["family"]).search_space(task_type).contains(rec["params"])
    except Exception:
        inside = False
    check("bounds", inside, "hyperparameters outside the family's search space")
    candidate = next((c for c in evidence["candidates"] if c["id"] == rec.get("candidate")), None)
    if candidate is not None:
        check("expected score matches the evidence", abs(rec["expected_score"] - candidate["predicted_score"]) <= 0.1,
              f"expected score {rec['expected_score']:.3g} is far from the predicted {candidate['predicted_score']:.3g}")
        ratio = (rec["expected_fit_time_s"] + 1e-3) / (candidate["predicted_fit_time_s"] + 1e-3)
        check("expected fit time matches the evidence", 1 / 3 <= ratio <= 3,
              f"expected fit time {rec['expected_fit_time_s']:.3g} s is far from the predicted "
              f"{candidate['predicted_fit_time_s']:.3g} s")
    text = rec["justification"].strip()
    check("justification says something", len(text) >= 40 and rec["family"].split("_")[0] in text.lower(),
          "the justification must name the chosen model and explain the choice from the evidence")
    budget = evidence.get("time_budget_s")
    if budget and candidate is not None:
        check("time budget", candidate["predicted_fit_time_s"] <= budget,
              f"predicted fit time {candidate['predicted_fit_time_s']:.3g} s exceeds the budget of {budget:g} s")
    in_evidence = {s["task"] for s in evidence["similar_tasks"]}
    # a candidate's origin ("portfolio:best:<task>", "similar:<task>") is evidence too
    in_evidence |= {c.get("origin", "").rsplit(":", 1)[-1] for c in evidence["candidates"] if ":" in c.get("origin", "")}
    cited = {t for t in known_tasks if re.search(rf"\b{re.escape(t)}\b", rec["justification"])}
    check("cites only evidence", cited <= in_evidence,
          f"the justification cites data sets that are not in the evidence: {', '.join(sorted(cited - in_evidence))}")
    return out


def llm_scores(llm, rec: dict[str, Any], evidence: dict[str, Any], retries: int,
               counts: dict[str, float]) -> dict[str, Any] | None:
    candidate = next((c for c in evidence["candidates"] if c["id"] == rec.get("candidate")), evidence["candidates"][0])
    prompt = render("judge", candidate_id=candidate["id"], family=candidate["family"],
                    predicted_score=f"{candidate['predicted_score']:.3f}",
                    predicted_time=f"{candidate['predicted_fit_time_s']:.2g}", shap="; ".join(candidate["shap"][:3]),
                    similar_names=", ".join(s["task"] for s in evidence["similar_tasks"]) or "none",
                    recommendation=json.dumps({k: rec[k] for k in ("family", "params", "expected_score",
                                                                   "expected_fit_time_s", "justification")}))
    schema = {"type": "object", "properties": {"format": SCORE_RANGE, "consistency": SCORE_RANGE,
                                               "completeness": SCORE_RANGE, "critique": {"type": "string", "maxLength": 300}},
              "required": ["format", "consistency", "completeness", "critique"]}
    answer, _ = ask_json(llm, prompt, schema, lambda d: JudgeAnswer.model_validate(d).model_dump(), retries, counts,
                         max_tokens=160)
    return answer


def best_attempt(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest-scored attempt; ties go to the earlier one."""
    return max(attempts, key=lambda a: (a["judgement"]["passed"], a["judgement"]["score"], -attempts.index(a)))
