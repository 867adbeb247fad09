"""``tunegraph plot``: a study's optimization history, and for a search across families the best
score per family over the trials and each family's own parameter importances, as PNG files.

Trials are numbered from 1, as the result table numbers them, and the axis names the metric.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, not windows
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402
from optuna.visualization import matplotlib as oplt  # noqa: E402

from tunegraph.cli.common import load_named_study  # noqa: E402
from tunegraph.errors import EXIT_OK  # noqa: E402
from tunegraph.tools.ml.search_space import FAMILY_PARAM  # noqa: E402

MIN_TRIALS_FOR_IMPORTANCE = 4  # a family's importances need a few trials with different parameters


def run(args: argparse.Namespace) -> int:
    study = load_named_study(args.study, args.storage)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    metric = str(study.user_attrs.get("metric") or "objective value")
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    written = [history(study, metric, out / f"{args.study}-history.png")]
    if any(FAMILY_PARAM in t.params for t in complete):
        written.append(per_family(complete, metric, study.direction, out / f"{args.study}-families.png"))
        for family in sorted({t.params[FAMILY_PARAM] for t in complete if FAMILY_PARAM in t.params}):
            path = importances(family_study(complete, family, study.direction), metric,
                               out / f"{args.study}-importances-{family}.png", family)
            if path:
                written.append(path)
    else:
        path = importances(study, metric, out / f"{args.study}-importances.png")
        if path:
            written.append(path)
    for path in written:
        print(path)
    return EXIT_OK


def history(study: optuna.Study, metric: str, path: Path) -> Path:
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
    xs = [t.number + 1 for t in trials]
    ys = [float(t.value) for t in trials if t.value is not None]
    best = [sign * max(sign * v for v in ys[: i + 1]) for i in range(len(ys))]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, ys, s=18, label="trial")
    ax.step(xs, best, where="post", color="C3", label="best so far")
    _label(ax, metric, f"{study.study_name}: optimization history")
    return _save(fig, path)


def per_family(trials: list, metric: str, direction, path: Path) -> Path:
    """Each family's best score so far, over the trial numbers: which families led, and when."""
    sign = 1 if direction == optuna.study.StudyDirection.MAXIMIZE else -1
    fig, ax = plt.subplots(figsize=(7, 4))
    for family in sorted({t.params.get(FAMILY_PARAM) for t in trials} - {None}):
        own = sorted((t for t in trials if t.params.get(FAMILY_PARAM) == family), key=lambda t: t.number)
        xs, best, bests = [t.number + 1 for t in own], None, []
        for t in own:
            best = t.value if best is None or sign * t.value > sign * best else best
            bests.append(best)
        ax.step(xs, bests, where="post", marker="o", markersize=3, label=family)
    _label(ax, metric, "best score per family")
    return _save(fig, path)


def family_study(trials: list, family: str, direction) -> optuna.Study:
    """One family's trials in a study of their own, under the family's own parameter names."""
    prefix = f"{family}."
    study = optuna.create_study(direction=direction)
    for t in trials:
        if t.params.get(FAMILY_PARAM) != family:
            continue
        params = {k[len(prefix):]: v for k, v in t.params.items() if k.startswith(prefix)}
        dists = {k[len(prefix):]: d for k, d in t.distributions.items() if k.startswith(prefix)}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=t.value))
    study.set_user_attr("name", family)
    return study


def importances(study: optuna.Study, metric: str, path: Path, family: str | None = None) -> Path | None:
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    what = f"{family}'s importances" if family else "importances"
    distinct = {tuple(sorted(t.params.items(), key=str)) for t in trials}
    if len(trials) < MIN_TRIALS_FOR_IMPORTANCE or len(distinct) < 2:
        print(f"tunegraph: no {what} plot: it needs {MIN_TRIALS_FOR_IMPORTANCE} completed trials with different "
              f"parameters ({len(trials)} here)", file=sys.stderr)
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        try:
            ax = oplt.plot_param_importances(study)
        except (RuntimeError, ValueError) as exc:  # Optuna's own: e.g. every parameter constant
            print(f"tunegraph: no {what} plot: {exc}", file=sys.stderr)
            plt.close("all")
            return None
    ax.set_title(f"hyperparameter importances for {metric}" + (f": {family}" if family else ""))
    return _save(ax.figure, path)


def _label(ax, metric: str, title: str) -> None:
    ax.set_xlabel("trial (numbered from 1, as in the result table)")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend(fontsize=8)


def _save(fig, path: Path) -> Path:
    fig.savefig(path, bbox_inches="tight", dpi=120)
    plt.close(fig)
    return path
