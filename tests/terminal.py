"""A program in a real pseudo-terminal, driven like a user: type lines, press Ctrl-C, read the screen."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import time


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: str):
        self.pid, self.fd = pty.fork()  # the child leads a session with the pty as its controlling terminal
        if self.pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # as a terminal user has it, even when we run in the background
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.output = ""
        self._seen = 0  # expect() searches output after the previous match

    def read(self, timeout: float = 0.1) -> None:
        while select.select([self.fd], [], [], timeout)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            self.output += chunk.decode("utf-8", "replace").replace("\r", "")
            timeout = 0.05

    def expect(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output[self._seen:])
            if match:
                self._seen += match.end()
                return match.group(0)
            self.read(0.2)
            if self.exited() is not None and not re.search(pattern, self.output[self._seen:]):
                self.read(0.2)
                if not re.search(pattern, self.output[self._seen:]):
                    break
        raise AssertionError(f"{pattern!r} did not appear; screen so far:\n{self.output[-3000:]}")

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def ctrl(self, key: str) -> None:
        os.write(self.fd, bytes([ord(key.upper()) - 64]))  # Ctrl-C: the terminal sends SIGINT

    def exited(self) -> int | None:
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.pid = -1
        self._status = os.waitstatus_to_exitcode(status)
        return self._status

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read(0.1)
            if self.pid == -1:
                return self._status
            code = self.exited()
            if code is not None:
                return code
        raise AssertionError(f"still running; screen:\n{self.output[-2000:]}")

    def close(self) -> None:
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)
