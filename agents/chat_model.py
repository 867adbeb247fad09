"""The chat's model answers: "save the model [to PATH]" and "predict FILE [to PATH]", with the model
the conversation's last run saved (agents/modeler.py). Each answer says where the file went."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

from tunegraph.errors import TuneGraphError
from tunegraph.tools.ml.fitted import ColumnWarning, ModelVersionWarning, load_model, predictions_frame
from tunegraph.tools.ml.tasks import read_table


def last_model(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest run of the conversation with a saved model."""
    return next((r for r in reversed(runs) if r.get("model_path") and Path(r["model_path"]).is_file()), None)


NO_MODEL = ("There is no saved model in this conversation yet: tune one first (e.g. \"tune wine with 10 trials\"); "
            "every run ends by refitting its best configuration on all rows and saving it.")


def save_text(runs: list[dict[str, Any]], path: str | None) -> str:
    run = last_model(runs)
    if run is None:
        return NO_MODEL
    source = Path(run["model_path"])
    if not path:
        return f"The model of study {run['study']} is saved at {source.resolve()}."
    target = Path(path).expanduser()
    if target.is_dir() or path.endswith(("/", "\\")):
        target = target / source.name
    elif not target.suffix:
        target = target.with_suffix(source.suffix)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as exc:
        return f"I could not save the model to {target}: {exc}"
    return f"Saved the model of study {run['study']} to {target.resolve()}."


def predict_text(runs: list[dict[str, Any]], data_path: str | None, out: str | None) -> str:
    run = last_model(runs)
    if run is None:
        return NO_MODEL
    if not data_path:
        return "Which file should I predict? Say e.g. \"predict new_rows.csv\"."
    target = Path(out).expanduser() if out else Path(data_path).with_name(f"{Path(data_path).stem}-predictions.csv")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = load_model(run["model_path"])
            predicted = predictions_frame(model, read_table(data_path))
        target.parent.mkdir(parents=True, exist_ok=True)
        predicted.to_csv(target, index=False)
    except (TuneGraphError, OSError) as exc:
        return f"I could not predict {data_path}: {exc}"
    notes = "".join(f"\nNote: {w.message}." for w in caught
                    if issubclass(w.category, (ColumnWarning, ModelVersionWarning)))
    return (f"Wrote {len(predicted):,} predictions of the model of study {run['study']} to {target.resolve()} "
            f"(a 'prediction' column" + (" and one proba_<class> column per class" if model.task_type ==
                                        "classification" else "") + ")." + notes)
