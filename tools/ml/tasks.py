"""Tasks: a tabular data set with a target, its task type and its meta-features.

Example:
    >>> task = load_task(dataset="breast_cancer")
    >>> task.task_type, task.n_classes
    ('classification', 2)
    >>> task = load_task(data="houses.csv", target="price")     # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from tunegraph.errors import InputError
from tunegraph.tools.ml.columns import ColumnPlan, apply_column_plan, plan_columns, prepare_columns

TaskType = Literal["classification", "regression"]
TASK_TYPES: tuple[str, ...] = ("classification", "regression")
BUILTIN_DATASETS: tuple[str, ...] = ("breast_cancer", "wine", "iris", "digits", "diabetes")


class TaskError(InputError):
    """The data or its description cannot make a learning task; the message says why."""


@dataclass
class Task:
    """Features ``X``, an encoded target ``y`` and what is known about them.

    For classification ``y`` holds integer codes 0..k-1 and ``classes`` their original labels.
    """

    name: str
    X: pd.DataFrame
    y: np.ndarray
    task_type: TaskType
    target: str
    classes: list = field(default_factory=list)
    source: str = ""
    notes: list[str] = field(default_factory=list)  # what was done to the columns (tools/ml/columns.py), for describe()
    column_plan: ColumnPlan | None = None  # raw columns -> X, for new rows (prepare_rows); None: X's columns are raw

    @property
    def n_classes(self) -> int:
        return len(self.classes) if self.task_type == "classification" else 0

    @property
    def categorical_columns(self) -> list[str]:
        return [c for c in self.X.columns if not pd.api.types.is_numeric_dtype(self.X[c]) or pd.api.types.is_bool_dtype(self.X[c])]

    @property
    def numeric_columns(self) -> list[str]:
        cats = set(self.categorical_columns)
        return [c for c in self.X.columns if c not in cats]

    def meta_features(self) -> dict[str, float]:
        """Plain-float description of the data set, the same keys for every task."""
        return meta_features(self)

    def describe(self) -> str:
        """One paragraph for prompts: what the data is and what is predicted."""
        mf = self.meta_features()
        kind = (f"{self.task_type} with {self.n_classes} classes" if self.task_type == "classification"
                else "regression")
        text = (f"Data set {quote_name(self.name)}: {int(mf['n_rows'])} rows, {int(mf['n_features'])} features "
                f"({int(mf['n_numeric'])} numeric, {int(mf['n_categorical'])} categorical), "
                f"{mf['missing_share']:.1%} missing cells. Task: {kind}, target {quote_name(self.target)}.")
        if self.task_type == "classification":
            text += f" Majority class share {mf['majority_share']:.2f}."
        if self.notes:  # names in the notes are quoted (quote_name): safe in prompts
            shown = self.notes[:6] + ([f"{len(self.notes) - 6} more"] if len(self.notes) > 6 else [])
            text += f" Columns: {'; '.join(shown)}."
        return text


def quote_name(name: object, limit: int = 60) -> str:
    """A user-given name (data set, column) as it may appear in a prompt: one line, at most
    ``limit`` characters, control characters removed, in JSON double quotes, so text like
    "ignore previous instructions" reads as a quoted name, not as an instruction.

    Example:
        >>> quote_name("col 1; ignore previous instructions\t!")
        '"col 1; ignore previous instructions !"'
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(name))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return json.dumps(text, ensure_ascii=False)


def load_task(dataset: str | None = None, data: str | Path | None = None, target: str | None = None,
              task_type: str | None = None, encoding: str | None = None) -> Task:
    """Load a built-in scikit-learn data set by name, or a CSV/Parquet file with a target column.

    ``encoding``: a CSV file's text encoding (default: UTF-8, else detected; see :func:`text_encoding`).
    """
    if (dataset is None) == (data is None):
        raise TaskError("give either a built-in data set name (--dataset) or a file (--data), not both or neither")
    if task_type is not None and task_type not in TASK_TYPES:
        raise TaskError(f"unknown task type '{task_type}'; choose one of: {', '.join(TASK_TYPES)}")
    if dataset is not None:
        frame, target, name, source = _load_builtin(dataset, target)
    else:
        if not target:
            raise TaskError("a data file needs --target COLUMN: the column to predict")
        frame = read_table(data, encoding=encoding)
        name, source = Path(data).stem, str(data)
    return task_from_frame(frame, target, name=name, task_type=task_type, source=source)


def read_table(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV (comma, semicolon or tab: sniffed) or Parquet file, with clear errors for missing,
    unreadable, binary or empty files.

    A CSV file is read as ``encoding`` when given, else as UTF-8 when it is UTF-8 (or has a byte-order
    mark), else in the encoding detected (:func:`text_encoding`), with a :class:`TextEncodingNote`
    warning naming it. A file with Parquet's signature is read as Parquet whatever its name.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise TaskError(f"data file not found: {path}")
    if not path.is_file():
        raise TaskError(f"not a file: {path}")
    suffix = path.suffix.lower()
    given = encoding is not None
    encoding, note = text_encoding(path, encoding)
    parquet = encoding is None
    try:
        if parquet:
            frame = pd.read_parquet(path)
        else:
            if note:
                warnings.warn(note, TextEncodingNote, stacklevel=2)
            sep, decimal = sniff_format(path, encoding=encoding)
            frame = pd.read_csv(path, sep=sep, decimal=decimal, na_values=["?", "NA", "N/A", "na", ""],
                                keep_default_na=True, skipinitialspace=True, encoding=encoding,
                                encoding_errors="strict")
    except pd.errors.EmptyDataError:
        raise TaskError(f"data file is empty: {path}") from None
    except UnicodeError as exc:  # an encoding given (or a byte-order mark) that does not fit the file
        hint = " (without an encoding given, it is detected)" if given else ""
        raise TaskError(f"cannot read {path} as CSV in {encoding_label(encoding)}: "
                        f"{str(exc).splitlines()[0]}{hint}") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        kind = "Parquet" if parquet or suffix in PARQUET_SUFFIXES else "CSV"
        raise TaskError(f"cannot read {path} as {kind}: {str(exc).splitlines()[0]}") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise TaskError(f"data file has no rows or no columns: {path}")
    names = [str(c).strip() for c in frame.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TaskError(f"{path} has duplicate column names: {', '.join(duplicates)}")
    frame.columns = names
    return frame


DELIMITERS = (",", ";", "\t")


class TextEncodingNote(UserWarning):
    """A CSV file was not UTF-8 and was read in the encoding its message names (detected)."""


PARQUET_SUFFIXES = (".parquet", ".pq")
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")  # pandas decompresses these by their suffix
NOT_A_TABLE = "does not look like a CSV/Parquet file"
# signatures of files users mistake for tables (or rename to .csv): what the file is instead
SIGNATURES = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
              (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook? save it as CSV)"),
              (b"\xd0\xcf\x11\xe0", "an Office document (an Excel .xls workbook? save it as CSV)"),
              (b"\x1f\x8b", "a gzip archive (name it .csv.gz)"), (b"7z\xbc\xaf", "a 7-Zip archive"),
              (b"SQLite format 3\x00", "an SQLite database"), (b"\x7fELF", "a program"))
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16's: FF FE 00 00
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CONTROL = bytes(set(range(32)) - {9, 10, 11, 12, 13, 26, 27})  # not in a text table (26: DOS end of file)


def encoding_label(encoding: str) -> str:
    """An encoding's usual name: cp1252, latin-1, utf-8."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding
    return {"iso8859-1": "latin-1", "utf-8-sig": "utf-8"}.get(name, name)


def _is_utf8(path: Path, chunk: int = 1 << 20) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        try:
            while block := handle.read(chunk):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _utf16_without_bom(head: bytes) -> str | None:
    """utf-16-le / utf-16-be for text of mostly ASCII characters in UTF-16 without a byte-order mark
    (every other byte NUL, the rest not), else None."""
    pairs = len(head) // 2
    if pairs < 4:
        return None
    even, odd = head[0:2 * pairs:2], head[1:2 * pairs:2]
    for name, zeros, chars in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) >= 0.9 * pairs and chars.count(0) == 0:
            try:
                head[:2 * pairs].decode(name)
            except UnicodeDecodeError:
                continue
            return name
    return None


def _detect_8bit(path: Path) -> str:
    """The encoding of a text file that is not UTF-8: charset-normalizer's guess, named cp1252 or
    latin-1 when either decodes the file to the same text (it often names cp1250 for both), else
    cp1252 when the bytes fit it, else latin-1 (which decodes any bytes)."""
    try:
        from charset_normalizer import from_path
    except ImportError:  # pragma: no cover - a dependency; the fallback still reads western files
        best = None
    else:
        best = from_path(path).best()
    if best is not None:
        alike = {codecs.lookup(name).name for name in [best.encoding, *best.could_be_from_charset]}
        for usual in ("cp1252", "latin-1"):
            if codecs.lookup(usual).name in alike:
                return usual
        if codecs.lookup(best.encoding).name not in ("utf-8", "ascii"):
            return best.encoding
    try:
        path.read_bytes().decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def text_encoding(path: str | Path, encoding: str | None = None) -> tuple[str | None, str | None]:
    """``(encoding, note)`` to read a data file with; ``(None, None)`` for a Parquet file (by suffix or signature).

    ``encoding`` given: that one (checked to exist), no note. Else a byte-order mark names it (UTF-8,
    UTF-16, UTF-32); else UTF-8 when the whole file decodes as UTF-8; else the encoding detected
    (:func:`_detect_8bit`: cp1252, latin-1 or what charset-normalizer finds), with a note naming it.
    A file that is not text (an image, an archive, a workbook, NUL bytes) raises :class:`TaskError`
    "FILE does not look like a CSV/Parquet file", saying what it looks like when it can.
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise TaskError(f"unknown encoding {encoding!r} (e.g. utf-8, cp1252, latin-1, utf-16)") from None
    if suffix in PARQUET_SUFFIXES:
        return None, None
    if suffix in COMPRESSED_SUFFIXES:  # pandas decompresses it: the bytes here say nothing about the text
        return encoding or "utf-8", None
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError as exc:
        raise TaskError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(b"PAR1"):
        return None, None
    bom = next((name for mark, name in BOMS if head.startswith(mark)), None)
    wide = encoding is not None and codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))  # NULs are text
    if bom is None and not wide and encoding is None and (utf16 := _utf16_without_bom(head)):
        return utf16, f"data file {path.name} is not UTF-8: read as {utf16} (detected)"
    if bom is None and not wide:
        what = next((kind for magic, kind in SIGNATURES if head.startswith(magic)), None)
        if what is None and (b"\x00" in head or sum(map(head.count, _CONTROL)) > 0.02 * len(head)):
            what = "binary data"
        if what is not None:
            raise TaskError(f"{path} {NOT_A_TABLE}: it looks like {what}")
    if encoding is not None:
        return encoding, None
    if bom is not None:
        return bom, None
    if _is_utf8(path):
        return "utf-8", None
    found = _detect_8bit(path)
    return found, f"data file {path.name} is not UTF-8: read as {encoding_label(found)} (detected)"


def sniff_format(path: str | Path, sample_bytes: int = 65536, encoding: str | None = None) -> tuple[str, str]:
    """``(delimiter, decimal mark)`` of a text table, from its first lines.

    The delimiter is the one of comma, semicolon and tab that splits the lines most consistently
    into as many columns as the header (ties go to the comma, then to more columns). Not
    csv.Sniffer: it guesses from character frequencies and may pick any character, a letter or a
    space in a small file; users write one of these three. With semicolons, a decimal comma
    (1,5) is taken when the numbers use it and none uses a point, as spreadsheets in many
    locales write them. ``encoding``: the file's (default: :func:`text_encoding`'s).
    """
    if encoding is None:
        encoding = text_encoding(path)[0] or "utf-8"
    with open(path, "rb") as handle:
        raw = handle.read(sample_bytes)
    text = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()][:50]
    if len(raw) == sample_bytes and len(lines) > 1:
        lines = lines[:-1]  # probably cut off mid-line
    best, best_key = ",", None
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        key = (sum(w == widths[0] for w in widths) / len(widths), widths[0])
        if best_key is None or key > best_key:
            best, best_key = delimiter, key
    decimal = "."
    if best == ";":
        cells = [cell.strip() for row in csv.reader(lines[1:], delimiter=";") for cell in row]
        if any(re.fullmatch(r"-?\d+,\d+", c) for c in cells) and not any(re.fullmatch(r"-?\d*\.\d+", c) for c in cells):
            decimal = ","
    return best, decimal


def _load_builtin(name: str, target: str | None) -> tuple[pd.DataFrame, str, str, str]:
    from sklearn import datasets

    loaders = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine,
               "iris": datasets.load_iris, "digits": datasets.load_digits, "diabetes": datasets.load_diabetes}
    if name not in loaders:
        raise TaskError(f"unknown data set '{name}'; built-in data sets are: {', '.join(BUILTIN_DATASETS)} "
                        "(or pass a file with --data FILE --target COLUMN)")
    bunch = loaders[name](as_frame=True)
    frame = bunch.frame.copy()
    default_target = bunch.target.name if hasattr(bunch.target, "name") else "target"
    return frame, target or default_target, name, f"sklearn.datasets.load_{name}"


def infer_task_type(y: pd.Series) -> TaskType:
    """Classification for text, boolean or few distinct integer values; regression otherwise."""
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    values = y.dropna()
    numbers = values.to_numpy(dtype=float)
    is_integral = bool(np.isfinite(numbers).all() and (np.mod(numbers, 1) == 0).all())
    return "classification" if is_integral and values.nunique() <= 10 else "regression"


def task_from_frame(frame: pd.DataFrame, target: str, name: str = "data", task_type: str | None = None,
                    source: str = "") -> Task:
    """Validate a table and split it into features and an encoded target.

    Identifiers and free text are dropped and dates expanded into parts (tools/ml/columns.py); the
    task's ``notes`` say which, and so does ``describe()``.
    """
    if frame.shape[0] == 0:
        raise TaskError(f"data set '{name}' is empty")
    names = [str(c) for c in frame.columns]  # a model pipeline selects columns by name: names are text
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TaskError(f"data set '{name}' has duplicate column names: {', '.join(duplicates[:10])}; "
                        "each column needs its own name")
    frame = frame.set_axis(names, axis=1)
    target = str(target)
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:30])) + (" ..." if frame.shape[1] > 30 else "")
        raise TaskError(f"target column '{target}' not found; columns are: {shown}")
    y_raw = frame[target]
    missing_target = y_raw.isna()
    if missing_target.all():
        raise TaskError(f"target column '{target}' has no values")
    if missing_target.any():
        warnings.warn(f"dropped {int(missing_target.sum())} rows with no value in target '{target}'", stacklevel=2)
        frame = frame.loc[~missing_target]
        y_raw = frame[target]
    X = frame.drop(columns=[target]).reset_index(drop=True)
    raw_columns = list(X.columns)
    empty = [c for c in X.columns if X[c].isna().all()]  # a column with no values carries nothing
    notes = [f"dropped {quote_name(c)} (no values)" for c in empty]
    X = X.drop(columns=empty)
    for col in X.columns:  # before the roles: unique numbers are not codes
        X[col] = _numbers_as_numbers(X[col])
    X, changed = prepare_columns(X)
    notes += changed
    if X.shape[1] == 0:
        dropped = f" ({'; '.join(notes[:5])})" if notes else ""
        raise TaskError(f"data set '{name}' has no feature columns besides the target '{target}'{dropped}")
    if changed:
        warnings.warn(f"columns of '{name}': {'; '.join(changed)}", stacklevel=2)
    infinite = [c for c in X.columns if pd.api.types.is_float_dtype(X[c]) and np.isinf(X[c].to_numpy(dtype=float)).any()]
    if infinite:  # '1e999' or 'inf' in a CSV: every model would reject the table, so treat it as missing
        warnings.warn(f"infinite values in {', '.join(map(str, infinite[:5]))} are treated as missing", stacklevel=2)
        X[infinite] = X[infinite].replace([np.inf, -np.inf], np.nan)
    for col in X.columns:  # categories as text: pandas' categorical dtype and mixed types trip the encoders
        if not pd.api.types.is_numeric_dtype(X[col]) or pd.api.types.is_bool_dtype(X[col]):
            X[col] = _as_category_text(X[col])
    kind = task_type or infer_task_type(y_raw)
    if kind == "classification":
        labels = y_raw.astype(str) if not pd.api.types.is_numeric_dtype(y_raw) else y_raw
        classes, codes = np.unique(labels.to_numpy(), return_inverse=True)
        if len(classes) < 2:
            raise TaskError(f"target '{target}' has a single class ({plain(classes[0])!r}); "
                            "classification needs two or more")
        y = codes.astype(np.int64)
        class_list = [plain(c) for c in classes]
    else:
        if not pd.api.types.is_numeric_dtype(y_raw) or pd.api.types.is_bool_dtype(y_raw):
            numeric = pd.to_numeric(y_raw, errors="coerce")
            if numeric.isna().any():
                bad = plain(y_raw[numeric.isna()].iloc[0])
                raise TaskError(f"regression target '{target}' is not numeric (value {bad!r}); "
                                "use --task-type classification if it is a label")
            y_raw = numeric
        y = y_raw.to_numpy(dtype=float)
        if not np.isfinite(y).all():
            raise TaskError(f"regression target '{target}' has infinite values (e.g. {y[~np.isfinite(y)][0]}); "
                            "fix or drop those rows")
        if np.nanstd(y) == 0:
            raise TaskError(f"regression target '{target}' is constant; there is nothing to predict")
        class_list = []
    return Task(name=name, X=X, y=y, task_type=kind, target=target, classes=class_list, source=source, notes=notes,
                column_plan=plan_columns(raw_columns, list(X.columns)))


def prepare_rows(frame: pd.DataFrame, plan: ColumnPlan, dtypes: dict[str, str]) -> pd.DataFrame:
    """New rows, with the raw columns a user's file has, as features made the way
    :func:`task_from_frame` made the training table: the column roles found at load time
    (``plan``), numbers as numbers, infinite values as missing, categories as text.

    ``dtypes`` are the training features' dtypes, in order. The caller checks that the columns
    ``plan.needed`` are there; a value that is not a number in a numeric column is a TaskError.
    """
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    raw = pd.DataFrame({c: _numbers_as_numbers(frame[c]) for c in plan.needed}, index=frame.index)
    X = apply_column_plan(raw, plan)
    for col, dtype in dtypes.items():
        kind = pd.api.types.pandas_dtype(dtype)
        if pd.api.types.is_bool_dtype(kind) or isinstance(kind, pd.CategoricalDtype):
            continue  # never so after task_from_frame (categories are text); a Task made by hand
        if pd.api.types.is_numeric_dtype(kind):
            X[col] = _as_number(X[col], col)
        else:
            X[col] = _as_category_text(_integral_as_int(X[col]))
    return X[list(dtypes)]


def _as_number(col: pd.Series, name: str) -> pd.Series:
    numbers = pd.to_numeric(col, errors="coerce") if not pd.api.types.is_numeric_dtype(col) else col
    bad = numbers.isna() & col.notna()
    if bad.any():
        raise TaskError(f"column {quote_name(name)} holds numbers in the training data, but new rows have "
                        f"{plain(col[bad].iloc[0])!r}")
    if pd.api.types.is_bool_dtype(numbers):
        numbers = numbers.astype(float)
    return numbers.replace([np.inf, -np.inf], np.nan) if pd.api.types.is_float_dtype(numbers) else numbers


def _integral_as_int(col: pd.Series) -> pd.Series:
    """Whole numbers as integers, so category 3 reads '3', as in the training file, not '3.0'
    (a column of codes with a missing value is read as floats)."""
    if pd.api.types.is_float_dtype(col) and (col.dropna() % 1 == 0).all():
        return col.astype("Int64").astype(object).where(col.notna())
    return col


def plain(value: object) -> object:
    """A NumPy scalar as the Python value it holds, so messages read ``1``, not ``np.int64(1)``."""
    return value.item() if isinstance(value, np.generic) else value


def _numbers_as_numbers(col: pd.Series) -> pd.Series:
    """An object column holding only numbers (a frame built from Python lists) as a numeric column."""
    values = col.dropna()
    if col.dtype == object and len(values) and values.map(lambda v: isinstance(v, (int, float, np.number))
                                                          and not isinstance(v, (bool, np.bool_))).all():
        return pd.to_numeric(col, errors="coerce")
    return col


def _as_category_text(col: pd.Series) -> pd.Series:
    """A non-numeric column as text (mixed types trip the encoders), missing values kept missing."""
    return col.astype(str).where(col.notna())


META_FEATURE_NAMES: tuple[str, ...] = (
    "n_rows", "log_rows", "n_features", "log_features", "n_numeric", "n_categorical", "numeric_share",
    "categorical_share", "missing_share", "rows_per_feature", "n_classes", "majority_share",
    "minority_share", "imbalance_ratio", "class_entropy", "target_skew", "target_cv",
)


def meta_features(task: Task) -> dict[str, float]:
    X, y = task.X, task.y
    n_rows, n_features = X.shape
    n_cat = len(task.categorical_columns)
    out = {
        "n_rows": float(n_rows), "log_rows": math.log10(max(n_rows, 1)),
        "n_features": float(n_features), "log_features": math.log10(max(n_features, 1)),
        "n_numeric": float(n_features - n_cat), "n_categorical": float(n_cat),
        "numeric_share": (n_features - n_cat) / n_features, "categorical_share": n_cat / n_features,
        "missing_share": float(X.isna().to_numpy().mean()),
        "rows_per_feature": n_rows / n_features,
        "n_classes": float(task.n_classes),
        "majority_share": 0.0, "minority_share": 0.0, "imbalance_ratio": 0.0, "class_entropy": 0.0,
        "target_skew": 0.0, "target_cv": 0.0,
    }
    if task.task_type == "classification":
        shares = np.bincount(y) / len(y)
        shares = shares[shares > 0]
        out["majority_share"] = float(shares.max())
        out["minority_share"] = float(shares.min())
        out["imbalance_ratio"] = float(shares.max() / shares.min())
        out["class_entropy"] = float(-(shares * np.log2(shares)).sum() / max(math.log2(len(shares)), 1e-12))
    else:
        series = pd.Series(y)
        out["target_skew"] = float(series.skew()) if len(series) > 2 else 0.0
        mean = float(series.mean())
        out["target_cv"] = float(series.std() / abs(mean)) if mean != 0 else 0.0
    return {k: float(round(v, 6)) for k, v in out.items()}
