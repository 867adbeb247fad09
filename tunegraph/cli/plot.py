"""``tunegraph plot``: a study's optimization history and parameter importances as PNG files."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, not windows
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import optuna  # noqa: E402
from optuna.visualization import matplotlib as oplt  # noqa: E402

from tunegraph.errors import EXIT_OK, InputError  # noqa: E402
from tunegraph.tools.trials.runs import default_storage  # noqa: E402


def run(args: argparse.Namespace) -> int:
    storage = args.storage or default_storage()
    try:
        study = optuna.load_study(study_name=args.study, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise InputError(f"no study named '{args.study}'; studies are: {', '.join(names[:20]) or 'none'}") from None
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
            except (RuntimeError, ValueError) as exc:  # Optuna's own: e.g. every parameter constant
                print(f"tunegraph: no importances plot: {exc}", file=sys.stderr)
            plt.close("all")
        else:
            print("tunegraph: no importances plot: it needs two completed trials with different parameters",
                  file=sys.stderr)
    for path in written:
        print(path)
    return EXIT_OK
