"""The killable child process behind --trial-timeout: answers, timeouts, deaths, orphans."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tunegraph.tools.trials.isolation import IsolatedRunner, describe_exit

ROOT = Path(__file__).resolve().parents[1]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def runner():
    r = IsolatedRunner()
    yield r
    r.close()


def test_answers_raises_times_out_and_restarts(runner):
    assert runner.call(math.factorial, (10,), timeout=30) == ("ok", 3628800)
    first = runner.pid
    with pytest.raises(ValueError, match="math domain error"):  # the child's exception, raised here
        runner.call(math.sqrt, (-1,), timeout=30)
    assert runner.pid == first  # an exception does not cost the child
    started = time.monotonic()
    assert runner.call(time.sleep, (3600,), timeout=0.5) == ("timeout", None)
    assert time.monotonic() - started < 30 and not alive(first)  # killed, not waited for
    assert runner.call(math.factorial, (5,), timeout=30) == ("ok", 120)  # a new child
    assert runner.pid != first


def test_a_dead_child_is_reported_and_replaced(runner):
    outcome, code = runner.call(os._exit, (3,), timeout=30)
    assert (outcome, code) == ("died", 3) and describe_exit(code) == "exit code 3"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert runner.call(math.factorial, (3,), timeout=30) == ("ok", 6)


def test_the_child_dies_with_a_killed_parent(tmp_path):
    script = ("import sys, time; sys.path.insert(0, %r)\n"  # noqa: UP031
              "from tunegraph.tools.trials.isolation import shared_runner\n"
              "r = shared_runner(); r.call(abs, (1,), timeout=60); print(r.pid, flush=True)\n"
              "r.call(time.sleep, (3600,), timeout=3600)\n") % str(ROOT)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.kill()  # SIGKILL: the parent cannot clean up
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)  # not left sleeping for an hour


def test_each_thread_has_its_own_child():
    import threading

    from tunegraph.tools.trials.isolation import shared_runner

    pids = {}

    def work(name):
        runner = shared_runner()
        runner.call(abs, (-1,), timeout=60)
        pids[name] = runner.pid
        assert shared_runner() is runner

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(pids.values())) == 2  # two runs in one process do not queue behind one child
