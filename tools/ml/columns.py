"""Column roles in a user's table: row identifiers, dates and free text, found and handled before modelling.

- A row identifier (an ``id`` column, ``..._id``, pandas' ``Unnamed: 0`` index, or 0, 1, 2, ...
  row numbers) takes a different value in every row, so nothing a model learns from it holds
  for a new row; worse, in a file sorted by the target it leaks the target. It is dropped.
- A date (a datetime column, or text that parses as dates) means nothing to the models as
  text, one category per day; its year, month, day and day of week are numbers they can use.
- Free text (mostly unique, long strings with spaces: names, comments) would be one-hot
  encoded into one rare category per row. TuneGraph's models take numbers and categories, so
  it is dropped; a note says so.

Each change is a note in the task's summary (``Task.describe()``), so it is never silent.

Example:
    >>> X, notes = prepare_columns(pd.DataFrame({"id": range(30), "when": ["2024-01-02"] * 30}))
    >>> list(X.columns), notes[0]
    (['when_year', 'when_month', 'when_day', 'when_day_of_week'], 'dropped "id" (row identifier: unique per row)')
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Below this many rows, values unique per row are as likely chance as an identifier (3 prices
# in a tiny file are unique too), so only the name can say that a column is an identifier.
MIN_ROWS_BY_CONTENT = 20
DATE_PARTS = ("year", "month", "day", "day_of_week")
_ID_WORDS = {"id", "uuid", "guid", "rowid", "row_id", "row_number", "index"}
# a four-digit year (2024-01-31, 31/01/2024, 2024-01), a time of day, or a month's name: version
# numbers (1.2.3) and decimals parse as dates too, so they must not look like one
_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{4}-\d{2}\b|\d{1,2}:\d{2}"
                        r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d", re.IGNORECASE)


def looks_like_id_name(name: str) -> bool:
    """``id``, ``user_id``, ``user-id``, ``PassengerId``, ``userID``, ``uuid``, pandas' ``Unnamed: 0``.

    Case matters for the camel-case forms: ``paid`` or ``valid`` are not identifiers.
    """
    lower = name.strip().lower()
    return (lower in _ID_WORDS or bool(re.search(r"[_\-\s.]id$", lower)) or bool(re.search(r"[a-z0-9](Id|ID)$", name))
            or bool(re.fullmatch(r"Unnamed: \d+", name.strip())))


def prepare_columns(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``X`` without identifiers and free text, dates expanded into parts, and a note per change."""
    from tunegraph.tools.ml.tasks import quote_name

    out: dict[str, pd.Series] = {}
    notes: list[str] = []
    for name in X.columns:
        col = X[name]
        role = column_role(name, col)
        if role == "id":
            notes.append(f"dropped {quote_name(name)} (row identifier: unique per row)")
        elif role == "text":
            notes.append(f"dropped {quote_name(name)} (free text: mostly unique long strings)")
        elif role == "date" and (when := _as_datetime(col)) is not None:
            for part in DATE_PARTS:
                new = f"{name}_{part}"
                while new in X.columns or new in out:  # never overwrite a column the user has
                    new += "_"
                out[new] = getattr(when.dt, part).astype(float)
            notes.append(f"expanded {quote_name(name)} (dates) into year, month, day, day of week")
        else:
            out[name] = col
    return pd.DataFrame(out, index=X.index), notes



@dataclass(frozen=True)
class ColumnPlan:
    """What loading did to each raw column, so new rows can get exactly the same.

    The roles are never guessed again on new rows: a single new row is "unique per row" too,
    and a few dates may not look like dates. ``columns`` are the raw feature columns (target
    excluded) in file order, ``dates`` maps a raw date column to its part columns (in
    ``DATE_PARTS`` order) and ``dropped`` names the columns the models never see.
    """

    columns: tuple[str, ...]
    dates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()

    @property
    def needed(self) -> list[str]:
        """The raw columns new rows must have."""
        return [c for c in self.columns if c not in self.dropped]

    @property
    def features(self) -> list[str]:
        """The feature columns :func:`apply_column_plan` makes, in the training table's order."""
        return [part for c in self.needed for part in self.dates.get(c, (c,))]

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "dates": {k: list(v) for k, v in self.dates.items()},
                "dropped": list(self.dropped)}

    @classmethod
    def from_dict(cls, data: dict) -> ColumnPlan:
        return cls(tuple(data["columns"]), {k: tuple(v) for k, v in data.get("dates", {}).items()},
                   tuple(data.get("dropped", ())))


def plan_columns(raw: list[str], prepared: list[str]) -> ColumnPlan:
    """The :class:`ColumnPlan` that turned columns ``raw`` into ``prepared`` (by names alone:
    :func:`prepare_columns` keeps a column's name, names date parts ``<column>_<part>``, with
    ``_`` added while a name is taken, and drops the rest)."""
    kept, new = set(raw) & set(prepared), [c for c in prepared if c not in set(raw)]
    dates: dict[str, tuple[str, ...]] = {}
    for name in raw:
        if name in kept:
            continue
        parts = {c[len(name) + 1:].rstrip("_"): c for c in new if c.startswith(f"{name}_")}
        if all(part in parts for part in DATE_PARTS):
            dates[name] = tuple(parts[part] for part in DATE_PARTS)
    dropped = tuple(c for c in raw if c not in kept and c not in dates)
    return ColumnPlan(tuple(raw), dates, dropped)


def apply_column_plan(X: pd.DataFrame, plan: ColumnPlan) -> pd.DataFrame:
    """New rows' columns as :func:`prepare_columns` made the training table's: dropped columns
    left out, dates expanded into the same part columns (a value that is not a date: missing)."""
    out: dict[str, pd.Series] = {}
    for name in plan.needed:
        if name not in plan.dates:
            out[name] = X[name]
            continue
        col = X[name]  # numbers would parse as nanoseconds since 1970
        when = None if pd.api.types.is_numeric_dtype(col) else _as_datetime(col)
        for part, new in zip(DATE_PARTS, plan.dates[name]):
            out[new] = (getattr(when.dt, part).astype(float) if when is not None
                        else pd.Series(np.nan, index=X.index))
    return pd.DataFrame(out, index=X.index)

def column_role(name: str, col: pd.Series) -> str:
    """'id', 'date', 'text' or 'feature'."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return "date"
    values = col.dropna()
    if values.empty or pd.api.types.is_bool_dtype(col) or pd.api.types.is_float_dtype(col):
        return "feature"
    integer = pd.api.types.is_integer_dtype(col)
    text = not pd.api.types.is_numeric_dtype(col)
    unique_per_row = len(values) == len(col) and values.nunique() == len(col) and len(col) >= 2
    if unique_per_row and (integer or text) and looks_like_id_name(str(name)):
        return "id"
    if not text:
        # row numbers: 0, 1, 2, ... (or from any start). Sorted integers with gaps may be a quantity
        # in a file sorted by it (years, counts), so they stay features.
        steps = np.diff(values.to_numpy(dtype=np.int64)) if integer and unique_per_row else np.array([0])
        return "id" if len(col) >= MIN_ROWS_BY_CONTENT and (steps == 1).all() else "feature"
    strings = values.astype(str)
    if _is_dates(strings):
        return "date"
    if len(col) < MIN_ROWS_BY_CONTENT:
        return "feature"
    if (strings.nunique() >= 0.5 * len(strings) and strings.str.len().mean() >= 20
            and strings.str.contains(r"\s", regex=True).mean() >= 0.5):
        return "text"
    return "id" if unique_per_row else "feature"


def _is_dates(strings: pd.Series) -> bool:
    """Most values look like dates (digits with separators, or month names) and parse as such."""
    sample = strings.head(200)
    if sample.str.contains(_DATE_LIKE, regex=True).mean() < 0.9:
        return False
    parsed = _as_datetime(strings)
    return parsed is not None and parsed.notna().mean() >= 0.9


def _as_datetime(col: pd.Series) -> pd.Series | None:
    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": then each value is parsed on its own
        try:
            parsed = pd.to_datetime(col, errors="coerce")
        except (ValueError, TypeError, OverflowError):  # e.g. mixed time zones
            return None
    return parsed if pd.api.types.is_datetime64_any_dtype(parsed) else None
