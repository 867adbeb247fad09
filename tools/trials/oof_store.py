"""Each finished trial's out-of-fold predictions, kept on disk beside the study for the post-hoc
ensemble: one ``.npy`` file per trial, written once when the trial is told, so a crash or a
resume loses none and memory holds none during the search.

The store is local to the machine: with several workers on one study, each keeps its own
trials' predictions, and the worker that saves the model ensembles those it has.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tunegraph.tools.trials.runs import DATA_DIR


def store_dir(study_name: str) -> Path:
    return DATA_DIR / "oof" / study_name


def save(study_name: str, number: int, predictions: np.ndarray) -> Path:
    """Write trial ``number``'s predictions (atomically: a crash leaves no half file)."""
    folder = store_dir(study_name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{int(number)}.npy"
    tmp = folder / f".{int(number)}.{os.getpid()}.tmp.npy"
    np.save(tmp, np.asarray(predictions, dtype=np.float32))  # float32: half the room, ample for averaging
    os.replace(tmp, path)
    return path


def load(study_name: str, numbers: list[int]) -> dict[int, np.ndarray]:
    """The predictions kept for those of ``numbers`` that have them."""
    folder = store_dir(study_name)
    return {n: np.load(folder / f"{n}.npy").astype(float) for n in numbers if (folder / f"{n}.npy").is_file()}
