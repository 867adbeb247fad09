"""`tunegraph chat` in a real terminal: recommend, a confirmed run stopped by Ctrl-C, continue,
explain, quit, and resume the conversation by its thread name."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.terminal import Terminal
from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tunegraph.tools.meta import metadataset

TUNEGRAPH = shutil.which("tunegraph", path=str(Path(sys.executable).parent)) or "tunegraph"


@pytest.fixture
def chat_env(tmp_path, small_metadataset):  # noqa: F811
    shipped = metadataset.save(small_metadataset, tmp_path / "meta.parquet")
    env = {**os.environ, "TUNEGRAPH_METADATASET": str(shipped), "TUNEGRAPH_HOME": str(tmp_path / "home"),
           "TERM": "dumb", "OMP_NUM_THREADS": "1"}
    return env, str(tmp_path)


def test_chat_session_in_a_terminal(chat_env):
    env, cwd = chat_env
    argv = [TUNEGRAPH, "chat", "--llm", "none", "--thread", "tty-test", "--confirm-above", "0"]
    term = Terminal(argv, env, cwd)
    try:
        term.expect(r"Type /help")
        term.send("/recommend wine --families knn logistic_regression")
        term.expect(r"tunegraph \[command\]> I recommend (knn|logistic_regression)")

        term.send("tune knn on iris with 300 trials")
        term.expect(r"Run 300 trials of knn on iris\? .*Go ahead\?")
        term.send("y")
        term.expect(r"trial 3/300")
        term.ctrl("c")
        term.expect(r"stopping after the current trial")
        term.expect(r"tunegraph \[rules\]> Study iris-knn-\S+ \(knn on iris\): \d+ trials finished")
        term.expect(r"stopped at your request")

        term.send("/continue --trials 2")
        term.expect(r"Go ahead\?")
        term.send("yes")
        term.expect(r"Run ended: trial budget of \d+ reached")

        term.send("why that n_neighbors?")
        term.expect(r"tunegraph \[rules\]> In study iris-knn-\S+, the best trial .*n_neighbors")
        term.send("")
        term.expect(r"Your message was empty")
        term.send("/quit")
        term.expect(r"Resume with: tunegraph chat --thread tty-test")
        assert term.wait() == 0
    finally:
        term.close()

    term = Terminal([TUNEGRAPH, "chat", "--llm", "none", "--thread", "tty-test"], env, cwd)
    try:
        term.expect(r"Resuming conversation 'tty-test'")
        term.send("/status")
        term.expect(r"\[command\]> Study iris-knn-\S+ \(knn on iris\): \d+ trials finished, 0 failed\. Best accuracy")
        term.ctrl("d")
        term.expect(r"Bye")
        assert term.wait() == 0
    finally:
        term.close()
