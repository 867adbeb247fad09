"""Chat answers from what was recorded, never invented: the best trial of a study, and why a
value was chosen (the trial's source and recorded reasoning, the recommender's justification
and SHAP evidence)."""

from __future__ import annotations

import json
import re
from typing import Any

import optuna

from tunegraph.tools.llm.answers import format_config, shown_number
from tunegraph.tools.trials.runs import default_storage
from tunegraph.tools.trials.storage import open_spec

LOOKUP_RESULTS = 5


def load_study(name: str, storage: str = "") -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=name, storage=open_spec(storage or default_storage()))
    except KeyError:
        return None


def status_text(run: dict[str, Any] | None, storage: str = "") -> str:
    """The best trial so far of ``run`` (a chat run record: study, metric, trials)."""
    if not run:
        return "No optimization in this conversation yet. Start one with /optimize DATA or ask me to tune a model."
    study = load_study(run["study"], storage)
    if study is None:
        return f"There is no study named '{run['study']}' in the storage."
    finished = [t for t in study.trials if t.state.is_finished()]
    complete = [t for t in finished if t.state == optuna.trial.TrialState.COMPLETE]
    running = sum(t.state == optuna.trial.TrialState.RUNNING for t in study.trials)
    head = (f"Study {study.study_name} ({study.user_attrs.get('model', '?')} on {study.user_attrs.get('task', '?')}): "
            f"{len(finished)} trials finished, {len(finished) - len(complete)} failed"
            + (f", {running} running" if running else "") + ".")
    if not complete:
        return head + " No successful trial yet."
    best = study.best_trial
    return (f"{head} Best {study.user_attrs.get('metric', 'score')} {best.value:.5g} at trial {shown_number(best.number)} "
            f"(proposed by {best.user_attrs.get('source', '?')}): {json.dumps(best.params)}")


def conversation_best_text(runs: list[dict[str, Any]], shown: str, storage: str = "") -> str:
    """The best trial over the conversation's runs (on one data set, one metric), when it is not in
    the study ``shown``: "best so far" means the conversation's best, named by its study."""
    best: tuple[float, Any, optuna.Study] | None = None
    metric = None
    for run in runs:
        study = load_study(run["study"], storage)
        if study is None or not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
            continue
        metric = metric or study.user_attrs.get("metric")
        if study.user_attrs.get("metric") != metric:  # scores in other units do not compare
            continue
        sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
        trial = study.best_trial
        value = float(trial.value if trial.value is not None else float("nan"))  # a best trial has a value
        if best is None or sign * value > sign * best[0]:
            best = (value, trial, study)
    if best is None or best[2].study_name == shown or len(runs) < 2:
        return ""
    value, trial, study = best
    return (f"\nBest over this conversation on this data: {metric} {value:.5g} in study {study.study_name} "
            f"({study.user_attrs.get('model', '?')}), trial {shown_number(trial.number)}.")


def explain_text(question: str, run: dict[str, Any] | None, recommendation: dict[str, Any] | None,
                 storage: str = "", latest: str = "run") -> str:
    """Why values were chosen, quoting the recorded evidence. A question naming parameters is
    answered from the run or recommendation that has them (the ``latest`` one when both do);
    otherwise from the ``latest`` one."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", question or ""))
    study = load_study(run["study"], storage) if run else None
    best = _best_trial(study)
    run_params = set(best.params) if best else set()
    rec_params = set(recommendation["final"]["params"]) if recommendation else set()
    asked = words & (run_params | rec_params)
    if run and not best and not recommendation:
        return f"Study {run['study']} has no successful trial to explain yet."
    if not best and not recommendation:
        return ("I have nothing recorded to explain yet: run /recommend or /optimize first, then ask why a value "
                "was chosen.")
    parts: list[str] = []
    in_run, in_rec = bool(asked & run_params), bool(asked & rec_params)
    if in_run and in_rec:  # "why that max_depth?" when both have one: the one of what was shown last
        in_run, in_rec = latest == "run", latest != "run"
    use_run = bool(best) and (in_run or (not asked and (latest == "run" or not recommendation)))
    use_rec = bool(recommendation) and (in_rec or (not asked and not use_run))
    if use_run and run and study is not None and best is not None:  # use_run: there is a best trial
        parts += _explain_run(run["study"], study, best, asked)
    if use_rec and recommendation is not None:
        parts += _explain_recommendation(recommendation, asked)
    unknown = sorted(w for w in words - asked if "_" in w.strip("_"))  # names like max_depth, not prose
    if unknown:
        parts.append(f"No recorded parameter is named {', '.join(unknown)}.")
    return "\n".join(parts)


def _best_trial(study: optuna.Study | None) -> optuna.trial.FrozenTrial | None:
    if study is None or not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        return None
    return study.best_trial


def _explain_run(name: str, study: optuna.Study, best: optuna.trial.FrozenTrial, asked: set[str]) -> list[str]:
    params = {k: v for k, v in best.params.items() if k in asked} or best.params
    source = best.user_attrs.get("source", "?")
    why = {"llm": "the LLM Optimizer proposed it", "init": "the Initializer proposed it",
           "meta": "the recommend graph's meta-knowledge proposed it (warm start)",
           "tpe": "Optuna's TPE sampled it from the trials that scored well so far",
           "random": "random search sampled it"}.get(source, f"source '{source}'")
    lines = [f"In study {name}, the best trial ({shown_number(best.number)}, {study.user_attrs.get('metric', 'score')} "
             f"{best.value:.5g}) used {json.dumps(params)}: {why}."]
    if best.user_attrs.get("reasoning"):
        lines.append(f"Recorded reasoning: \"{best.user_attrs['reasoning']}\"")
    return lines


def _explain_recommendation(recommendation: dict[str, Any], asked: set[str]) -> list[str]:
    final = recommendation["final"]
    lines = [f"The recommendation was {final['family']} with {format_config(final['params'])} "
             f"({final['source']}): {final['justification']}"]
    candidates = (recommendation.get("evidence") or {}).get("candidates") or []
    chosen = next((c for c in candidates if c.get("params") == final["params"]), None)
    if chosen and chosen.get("shap"):
        shap = [s for s in chosen["shap"] if any(a in s for a in asked)] or chosen["shap"][:3]
        lines.append("SHAP evidence: " + "; ".join(shap))
    similar = (recommendation.get("evidence") or {}).get("similar_tasks") or []
    if similar:
        lines.append("Similar past data sets: " + ", ".join(s["task"] for s in similar[:3]))
    return lines


def lookup_text(query: str, k: int = LOOKUP_RESULTS, frame=None, on_build=None) -> str:
    """The recorded experiments closest in meaning to ``query`` (text search over the meta-dataset):
    the best-scored hit of each of the ``k`` closest data sets, so one data set does not fill the list.
    ``on_build(n_records)`` is called before the index is embedded (the first search only)."""
    from tunegraph.tools.meta.knowledge import open_text_index, text_index_cached
    from tunegraph.tools.meta.metadataset import MetaDatasetError
    from tunegraph.tools.meta.retrieval import RetrievalError

    query = (query or "").strip()
    if not query:
        return "What should I look up? e.g. /lookup knn on a small classification data set"
    try:
        if on_build is not None and not text_index_cached(frame):
            on_build()
        index = open_text_index(frame)
        hits = index.search(query, k=min(len(index), 50 * k))
    except (MetaDatasetError, RetrievalError) as exc:
        return f"There are no recorded experiments to search: {exc}"
    best: dict[str | None, tuple[float, dict]] = {}  # per data set: the closest hits, of them the best-scored
    for score, row in hits:
        task = row.get("task")
        if task not in best:
            best[task] = (score, row)
        elif score >= best[task][0] - 0.02 and (row.get("score_norm") or 0) > (best[task][1].get("score_norm") or 0):
            best[task] = (best[task][0], row)
    picked = sorted(best.values(), key=lambda hit: -hit[0])[:k]
    if not picked:
        return "No recorded experiment matches that."
    lines = [f"Recorded experiments closest to '{query[:200]}', the best-scored close match of each of "
             f"{len(picked)} data sets (searched {len(index)} records by meaning: MiniLM embeddings in FAISS):"]
    lines += [f"- {row['document']} (similarity {score:.2f})" for score, row in picked]
    return "\n".join(lines)
