"""What the wheel holds: one tunegraph namespace, every sub-package listed, the shipped data beside it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_package_is_found_for_the_wheel():
    """setup.py discovers the sub-packages: every folder with an __init__.py is a tunegraph package."""
    import importlib

    setup = (ROOT / "setup.py").read_text()
    folders = eval(setup[setup.index("FOLDERS = ") + len("FOLDERS = "):setup.index("}", setup.index("FOLDERS = ")) + 1])
    assert {name.split(".")[0] for name in folders} == {"tunegraph"}
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            dotted = ".".join([name, *init.parent.relative_to(ROOT / folder).parts])
            assert importlib.import_module(dotted).__file__ == str(init)


@pytest.mark.parametrize("name", ["tools", "agents", "graphs", "prompts", "data"])
def test_a_folder_is_not_a_second_top_level_package(name):
    """From the repository root (on sys.path in this session), ``import tools`` would load a second copy
    of every module, with its own caches and singletons: it is refused, and nothing here imported it."""
    out = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode != 0 and f"import tunegraph.{name}, not {name}" in out.stderr
    assert name not in sys.modules


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
