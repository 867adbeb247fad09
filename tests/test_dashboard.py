"""`tunegraph dashboard` (optuna-dashboard on loopback) opened in a real headless browser, and `tunegraph plot`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tunegraph import optimize
from tunegraph.cli import main

ARTIFACTS = Path(__file__).resolve().parents[1] / ".test-artifacts"  # kept for a person to look at, not in git


def chromium() -> str | None:
    return os.environ.get("TUNEGRAPH_TEST_CHROMIUM") or shutil.which("chromium-headless-shell") or shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    optimize(dataset="iris", model="knn", trials=4, folds=3, storage=storage, study_name="iris-dash")
    return storage


def test_dashboard_lists_the_study_and_its_trials_in_a_browser(study, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("no headless Chromium (Debian: apt-get install chromium-headless-shell; CI installs it)")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tunegraph", "dashboard", "--storage", study, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        studies = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/api/studies", timeout=2) as r:
                    studies = json.load(r)["study_summaries"]
                break
            except OSError:
                time.sleep(0.25)
        assert studies is not None, "the dashboard did not answer"
        assert [s["study_name"] for s in studies] == ["iris-dash"]
        study_id = studies[0]["study_id"]
        with urllib.request.urlopen(f"{base}/api/studies/{study_id}?after=0", timeout=5) as r:
            trials = json.load(r)["trials"]
        attrs = [{a["key"]: a["value"] for a in t["user_attrs"]} for t in trials]
        assert len(trials) == 4 and [a["source"] for a in attrs][0] == "init"  # the source is shown per trial
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        shot.unlink(missing_ok=True)
        page = f"{base}/dashboard/studies/{study_id}/trials"
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1300",
                 "--virtual-time-budget=15000"]
        dom = subprocess.run([browser, *flags, "--dump-dom", f"{base}/dashboard"], capture_output=True, text=True,
                             timeout=120).stdout
        assert "iris-dash" in dom  # the study list, rendered by the page's own JavaScript
        subprocess.run([browser, *flags, f"--screenshot={shot}", page], capture_output=True, timeout=120)
        assert shot.is_file() and shot.stat().st_size > 10_000
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_plot_writes_history_and_importances(study, tmp_path, capsys):
    assert main(["plot", "iris-dash", "--storage", study, "--out", str(tmp_path / "plots")]) == 0
    written = capsys.readouterr().out.split()
    assert [Path(p).name for p in written] == ["iris-dash-history.png", "iris-dash-importances.png"]
    assert all(Path(p).stat().st_size > 5_000 and Path(p).read_bytes()[:4] == b"\x89PNG" for p in written)
    assert main(["plot", "nope", "--storage", study]) == 2
    err = capsys.readouterr().err
    assert "no study named 'nope' in" in err and "its studies are: iris-dash" in err and "--storage URL" in err


def test_plot_across_families_draws_each_familys_chart_with_the_metric_and_leaves_no_folder(tmp_path, capsys):
    import matplotlib.image

    assert main(["optimize", "--dataset", "wine", "--trials", "8", "--llm", "none", "--folds", "3", "--quiet",
                 "--no-model", "--no-learn", "--portfolio", "0", "--study", "wine-cash"]) == 0
    capsys.readouterr()
    assert main(["plot", "wine-cash", "--out", str(tmp_path / "plots")]) == 0
    names = [Path(p).name for p in capsys.readouterr().out.split()]
    assert names[:2] == ["wine-cash-history.png", "wine-cash-families.png"]
    assert all(n.startswith("wine-cash-importances-") for n in names[2:])  # one per family with enough trials
    assert matplotlib.image.imread(tmp_path / "plots" / names[1]).shape[0] > 100
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import os

    os.chdir(elsewhere)  # another folder: no studies here, and none created by looking
    assert main(["plot", "wine-cash"]) == 2
    err = capsys.readouterr().err
    assert "there are no studies in" in err and "TUNEGRAPH_STORAGE" in err and not (elsewhere / ".tunegraph").exists()
