"""The scripted-usage example runs as documented."""

from __future__ import annotations

import runpy
from pathlib import Path

from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tunegraph.tools.meta import knowledge, metadataset

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scripted_run.py"


def test_scripted_example_recommends_then_optimizes_from_the_advice(small_metadataset, tmp_path, monkeypatch,  # noqa: F811
                                                                     capsys):
    monkeypatch.setenv("TUNEGRAPH_METADATASET", str(metadataset.save(small_metadataset, tmp_path / "meta.parquet")))
    knowledge.forget()
    main = runpy.run_path(str(EXAMPLE))["main"]
    state = main(["--dataset", "wine", "--trials", "5", "--llm", "none"])
    out = capsys.readouterr().out
    assert out.startswith("recommended: ")
    assert state["n_done"] == 5 and state["best_value"] > 0.5
    assert sum(line.startswith("trial ") for line in out.splitlines()) == 5 and "(  meta)" in out  # the warm start's configurations ran first
    knowledge.forget()
