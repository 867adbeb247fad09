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


STUDIO_NODES = {"optimize": {"initialize", "evaluate", "remember"}, "recommend": {"retrieve", "recommend", "judge"},
                "chat": {"understand", "plan", "confirm", "reply"}}


def test_studio_endpoints_schemas_graphs_and_a_run_from_the_defaults(server):
    """What Studio reads to draw a graph, its input form and its configuration panel, on the endpoints themselves
    (they answered 500 on Python 3.11), then a run started as Studio would start one: from the schemas' defaults."""
    import importlib

    client, workdir = server
    url = str(client.http.client.base_url).rstrip("/")
    assistants = {a["graph_id"]: a["assistant_id"] for a in client.assistants.search()}
    assert set(STUDIO_NODES) <= set(assistants)
    schemas = {}
    for graph_id, expected in STUDIO_NODES.items():
        response = httpx.get(f"{url}/assistants/{assistants[graph_id]}/schemas", timeout=30)
        assert response.status_code == 200, (graph_id, response.text[:500])
        schemas[graph_id] = body = response.json()
        assert body["input_schema"] and body["input_schema"].get("properties"), graph_id
        context = body["context_schema"]
        assert context and context.get("properties"), graph_id
        missing = [name for name, spec in context["properties"].items() if "default" not in spec]
        assert not missing, f"{graph_id}: context fields without a default in the schema: {missing}"
        assert not context.get("required"), graph_id
        assert context["properties"]["trials"]["description"].startswith("Trial budget")
        assert context["properties"]["llm"]["default"] == "none"  # the server's TUNEGRAPH_LLM: what a run takes

        response = httpx.get(f"{url}/assistants/{assistants[graph_id]}/graph", timeout=30)
        assert response.status_code == 200, (graph_id, response.text[:500])
        nodes = {node["id"] for node in response.json()["nodes"]}
        graph = importlib.import_module(f"tunegraph.graphs.{graph_id}").graph
        assert nodes == set(graph.get_graph().nodes) and expected <= nodes, (graph_id, nodes)
    assert "messages" in schemas["chat"]["input_schema"]["properties"]
    assert {"dataset", "data_path", "target"} <= set(schemas["recommend"]["input_schema"]["properties"])

    recommend = schemas["recommend"]
    inputs = {name: spec["default"] for name, spec in recommend["input_schema"]["properties"].items()
              if "default" in spec}
    context = {name: spec["default"] for name, spec in recommend["context_schema"]["properties"].items()}
    thread = client.threads.create()
    run = client.runs.create(thread["thread_id"], assistants["recommend"], input={**inputs, "dataset": "wine"},
                             context=context)
    out = client.runs.join(thread["thread_id"], run["run_id"])
    assert client.runs.get(thread["thread_id"], run["run_id"])["status"] == "success", out
    assert out["final"]["family"] in ("knn", "logistic_regression") and out["final"]["justification"], out
    log = (workdir / "server.log").read_text()
    assert "Failed to get" not in log and "typing.TypedDict" not in log, log[-3000:]


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
    assert nodes[0] == "initialize" and nodes.count("evaluate") == 4 and nodes[-2:] == ["remember", "save_model"]
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
