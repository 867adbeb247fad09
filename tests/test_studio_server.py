"""The three graphs behind the LangGraph API server (`tunegraph studio`), through langgraph-sdk:
assistants, threads, streamed runs, and the chat graph's confirmation interrupt and its resume."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import optuna
import pytest

from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tunegraph.tools.meta import metadataset

pytest.importorskip("langgraph_api", reason="the LangGraph server comes with the 'test' and 'studio' extras")
from langgraph_sdk import get_sync_client  # noqa: E402

TUNEGRAPH = shutil.which("tunegraph", path=str(Path(sys.executable).parent)) or "tunegraph"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path, small_metadataset):  # noqa: F811
    shipped = metadataset.save(small_metadataset, tmp_path / "meta.parquet")
    port = free_port()
    env = {**os.environ, "TUNEGRAPH_LLM": "none", "TUNEGRAPH_METADATASET": str(shipped),
           "TUNEGRAPH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([TUNEGRAPH, "studio", "--port", str(port)], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("server did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield get_sync_client(url=url), tmp_path
    finally:
        proc.terminate()  # SIGTERM to `tunegraph studio` alone, as `kill PID` does: its server must stop too
        orphaned, deadline = True, time.monotonic() + 30
        while orphaned and time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/ok", timeout=1)
                time.sleep(0.5)
            except httpx.TransportError:
                orphaned = False
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left
        except ProcessLookupError:
            pass
        proc.wait(timeout=20)
        log.close()
        assert not orphaned, "the LangGraph server outlived tunegraph studio"


def listening_addresses(port: int) -> set[str]:
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}


def test_three_graphs_through_the_sdk(server):
    client, workdir = server
    assert {a["graph_id"] for a in client.assistants.search()} >= {"optimize", "recommend", "chat"}
    port = int(client.http.client.base_url.port)
    if shutil.which("ss"):
        assert listening_addresses(port) == {"127.0.0.1"}  # loopback only unless --host says otherwise

    thread = client.threads.create()
    nodes = [node for part in client.runs.stream(thread["thread_id"], "optimize", stream_mode="updates",
                                                  input={"dataset": "iris", "model": "knn", "study_name": "sdk-opt"},
                                                  context={"trials": 4})
             if part.event == "updates" for node in part.data]
    assert nodes[0] == "initialize" and nodes.count("evaluate") == 4 and nodes[-1] == "remember"
    state = client.threads.get_state(thread["thread_id"])["values"]
    assert state["n_done"] == 4 and state["stop_reason"].startswith("trial budget")
    study = optuna.load_study(study_name="sdk-opt", storage=f"sqlite:///{workdir / '.tunegraph' / 'studies.db'}")
    assert len(study.trials) == 4

    out = client.runs.wait(None, "recommend", input={"dataset": "wine", "families": ["knn", "logistic_regression"]})
    assert out["final"]["family"] in ("knn", "logistic_regression") and out["final"]["justification"]

    thread = client.threads.create()
    message = {"role": "user", "content": "/optimize iris --model knn --trials 3 --study sdk-chat"}
    events = list(client.runs.stream(thread["thread_id"], "chat", input={"messages": [message]},
                                     context={"confirm_above_s": 0}, stream_mode="updates"))
    interrupts = [p.data["__interrupt__"] for p in events if p.event == "updates" and "__interrupt__" in p.data]
    assert interrupts and "Run 3 trials of knn on iris" in interrupts[0][0]["value"]["question"]
    assert client.threads.get_state(thread["thread_id"])["next"] == ["confirm"]
    trials = [p.data for p in client.runs.stream(thread["thread_id"], "chat", command={"resume": "yes"},
                                                  context={"confirm_above_s": 0}, stream_mode="custom")
              if p.event == "custom" and p.data.get("event") == "trial" and p.data["n_done"]]
    assert [t["n_done"] for t in trials] == [1, 2, 3]
    reply = client.threads.get_state(thread["thread_id"])["values"]["messages"][-1]
    assert "Study sdk-chat (knn on iris): 3 trials finished" in reply["content"]
