"""What the wheel holds: one tunegraph namespace, every sub-package listed, the shipped data beside it."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_package_is_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapping = set(config["packages"]), config["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    assert found == listed  # a new sub-package left out of pyproject.toml would be missing from the wheel
    assert {p.split(".")[0] for p in listed} == {"tunegraph"}


def test_the_packaged_langgraph_json_is_the_repository_one():
    assert json.loads((ROOT / "langgraph.json").read_text()) == json.loads((ROOT / "data" / "langgraph.json").read_text())
    graphs = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
    assert all(spec.startswith("tunegraph.graphs.") for spec in graphs.values())


def test_python_m_tunegraph_is_the_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tunegraph", "--help"], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0 and "recommend" in out.stdout and "dashboard" in out.stdout


def test_shipped_data_is_found_as_package_data():
    from tunegraph.tools.meta.metadataset import shipped_data_dir

    assert (shipped_data_dir() / "metadataset.parquet").is_file()
    assert shipped_data_dir() == ROOT / "data"  # the editable install maps tunegraph.data to data/


def test_the_shipped_meta_learner_was_fitted_on_what_ships():
    """Else a first recommend after install silently trains it (30 s and more) instead of loading it."""
    from tunegraph.tools.meta.knowledge import shipped_frame
    from tunegraph.tools.meta.metalearner import FEATURES, fingerprint

    meta = json.loads((ROOT / "data" / "metalearner" / "meta.json").read_text())
    frame = shipped_frame(ROOT / "data" / "metadataset.parquet", ROOT / "data" / "config_matrix.parquet")
    assert meta["fingerprint"] == fingerprint(frame), "refit it: python -c 'from tunegraph.tools.meta.knowledge " \
        "import fit_shipped_learner; fit_shipped_learner(\"data/metadataset.parquet\", \"data/config_matrix.parquet\")'"
    assert meta["features"] == FEATURES
