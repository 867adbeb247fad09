"""Shared fixtures. Unit tests run offline: sockets may only reach loopback addresses."""

from __future__ import annotations

import socket

import pytest

from tunegraph.tools.ml.tasks import Task, load_task
from tunegraph.tools.trials import runs


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Refuse connections to anything but loopback, so no test depends on the internet."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("/"):
            raise OSError(f"network access blocked in tests: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path, monkeypatch):
    """Each test gets its own working directory (.tunegraph/ lands there) and a fresh run cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # nothing listens: 'auto' means embedded
    monkeypatch.setenv("TUNEGRAPH_HOME", str(tmp_path / "home"))  # the user's meta-dataset layer
    monkeypatch.setenv("TUNEGRAPH_METADATASET", str(tmp_path / "no-shipped-metadataset.parquet"))
    # the post-hoc ensemble costs a predict per fold and a selection per run: the tests of it ask for it
    # (tests/test_ensemble_run.py); every other run is the single best trial's refit
    monkeypatch.setenv("TUNEGRAPH_ENSEMBLE", "off")
    runs.forget_runs()
    yield
    runs.forget_runs()


# Built-in data sets shared by the unit tests (loaded once per module).
@pytest.fixture(scope="module")
def breast_cancer() -> Task:
    return load_task(dataset="breast_cancer")


@pytest.fixture(scope="module")
def iris() -> Task:
    return load_task(dataset="iris")


@pytest.fixture(scope="module")
def diabetes() -> Task:
    return load_task(dataset="diabetes")
