"""Your layer of the meta-dataset, by study: which run added which records, so a run can be taken
back out (``tunegraph metadata remove STUDY``) and ``metadata info`` can list what you added.

The index is a JSON file beside the layer (``$TUNEGRAPH_HOME/metadataset_studies.json``); a record
that two studies both found (the same task, family, metric and configuration) stays until the
last of them is removed.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunegraph.tools.meta import metadataset
from tunegraph.tools.meta.metadataset import MetaDatasetError


def index_path() -> Path:
    return metadataset.user_dir() / "metadataset_studies.json"


def studies() -> dict[str, dict[str, Any]]:
    """study -> {task, records (ids), added}: what each study added to your layer."""
    path = index_path()
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MetaDatasetError(f"cannot read {path}: {exc}") from None


def _write(index: dict[str, dict[str, Any]]) -> None:
    path = index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(index, indent=1, sort_keys=True))
    os.replace(tmp, path)


def add_study(name: str, records: list[dict[str, Any]]) -> int:
    """Append ``records`` (of study ``name``) to your layer and index them; returns the layer's size."""
    frame = metadataset.append(metadataset.user_path(), records)
    index = studies()
    entry = index.get(name, {"records": []})
    ids = sorted(set(entry["records"]) | {r["record_id"] for r in records})
    index[name] = {"task": records[0]["task"], "records": ids,
                   "added": datetime.now(UTC).isoformat(timespec="seconds")}
    _write(index)
    return len(frame)


def remove_study(name: str) -> int:
    """Take study ``name``'s records out of your layer (those no other study added too); returns how many."""
    index = studies()
    if name not in index:
        known = ", ".join(sorted(index)[:20]) or "none"
        raise MetaDatasetError(f"no study named '{name}' in your meta-dataset layer ({metadataset.user_path()}); "
                               f"its studies are: {known}")
    others = {rid for study, entry in index.items() if study != name for rid in entry["records"]}
    drop = set(index.pop(name)["records"]) - others
    path = metadataset.user_path()
    removed = 0
    if path.exists() and drop:
        frame = metadataset.load(path)
        kept = frame[~frame["record_id"].isin(drop)]
        removed = len(frame) - len(kept)
        if len(kept):
            metadataset.save(metadataset.normalize_scores(kept.reset_index(drop=True)), path)
        else:
            path.unlink()
    _write(index)
    return removed
