"""``tunegraph predict``: a saved model's predictions for a file's rows, as a CSV.

The file is read as ``optimize`` reads one (delimiter, decimal mark and encoding sniffed, Parquet by
suffix or signature; ``--encoding`` to choose the encoding), and
its columns are prepared as the training table's were; what the model ignores is said, not fatal.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from tunegraph.errors import EXIT_OK
from tunegraph.tools.ml.fitted import ColumnWarning, ModelVersionWarning, load_model, predictions_frame
from tunegraph.tools.ml.tasks import TextEncodingNote, read_table


def default_out(data: str) -> Path:
    path = Path(data)
    return path.with_name(f"{path.stem}-predictions.csv")


def run(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_model(args.model)
        frame = read_table(args.data, encoding=getattr(args, "encoding", None))
        predicted = predictions_frame(model, frame)
    for warning in caught:  # a version mismatch, ignored columns, unseen categories: one plain line each
        if issubclass(warning.category, (ModelVersionWarning, ColumnWarning, TextEncodingNote)):
            kind = "warning" if issubclass(warning.category, ModelVersionWarning) else "note"
            extra = "; --encoding NAME reads it otherwise" if issubclass(warning.category, TextEncodingNote) else ""
            print(f"tunegraph: {kind}: {warning.message}{extra}", file=sys.stderr)
    out = Path(args.out) if args.out else default_out(args.data)
    out.parent.mkdir(parents=True, exist_ok=True)
    predicted.to_csv(out, index=False)
    what = f"{model.info.family}" if not model.info.members else f"an ensemble of {len(model.info.members)}"
    print(f"{len(predicted):,} predictions ({what}, {model.info.task_type}) written to {out}", file=sys.stderr)
    print(out)
    return EXIT_OK
