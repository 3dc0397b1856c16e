"""Shared helpers for the emulator's tests (pytest)."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import modemstate  # noqa: E402

ATMODEM = os.path.join(HERE, "atmodem.py")
PY = sys.executable or "python3"

FINAL_RE = re.compile(
    rb"\r\n(OK|ERROR|\+CME ERROR: [^\r]*|\+CMS ERROR: [^\r]*|COMMAND NOT SUPPORT)\r\n$|\r\n> $")


def ctl_offline(state: str, op: str, **params) -> dict:
    """What `atmodem.py ctl --state FILE OP JSON` does (edit the file under
    its lock), in-process to keep the suite fast; test_emulator.py covers
    the CLI itself."""
    store = modemstate.Store(state)
    with store.edit() as st:
        body = modemstate.apply_op(st, {"op": op, **params})
    return {"ok": True, "offline": True, **json.loads(json.dumps(body))}


def ctl_socket(path: str, timeout: float = 10.0, **req) -> dict:
    """One request on a running emulator's control socket."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    with s:
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def read_state(state: str) -> dict:
    with open(state, encoding="utf-8") as f:
        return json.load(f)


class StdioModem:
    """The emulator on stdin/stdout (like proxyat), driven byte by byte."""

    def __init__(self, state: str, *extra: str):
        self.p = subprocess.Popen([PY, ATMODEM, "--state", state, *extra],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.buf = b""

    def raw(self, data: bytes) -> None:
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def read_at_least(self, count: int, timeout: float = 10.0, settle: float = 0.3) -> bytes:
        """Reads until `count` bytes came (or `timeout`, which only catches
        a hang: a loaded machine starts Python slowly), then for `settle`
        seconds more in case more follows."""
        end = time.monotonic() + timeout
        out = b""
        while len(out) < count and time.monotonic() < end:
            r, _, _ = select.select([self.p.stdout], [], [], end - time.monotonic())
            if r:
                chunk = self.p.stdout.read(65536)
                if not chunk:
                    return out
                out += chunk
        return out + self.read_for(settle)

    def read_for(self, seconds: float) -> bytes:
        end = time.monotonic() + seconds
        out = b""
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = self.p.stdout.read(65536)
                if not chunk:
                    break
                out += chunk
        return out

    def read_until(self, pattern: re.Pattern, timeout: float = 5.0) -> bytes:
        end = time.monotonic() + timeout
        while not pattern.search(self.buf):
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no match for {pattern.pattern!r} in {self.buf!r}")
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = self.p.stdout.read(65536)
                if chunk is None:
                    continue
                if not chunk:
                    raise EOFError(f"emulator exited; got {self.buf!r}")
                self.buf += chunk
        m = pattern.search(self.buf)
        out, self.buf = self.buf[:m.end()], self.buf[m.end():]
        return out

    def cmd(self, line: str, timeout: float = 5.0) -> str:
        """Send one command line, return everything up to its final result
        (echo included when echo is on)."""
        self.raw(line.encode("latin-1") + b"\r")
        return self.read_until(FINAL_RE, timeout).decode("utf-8", "replace")

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for f in (self.p.stdout, self.p.stderr):
            f.close()


@pytest.fixture
def state(tmp_path) -> str:
    """A fresh state file with the SIM already unlocked (most tests)."""
    path = str(tmp_path / "modem.json")
    ctl_offline(path, "init", overrides={"sim.lock": "READY"})
    return path


@pytest.fixture
def locked_state(tmp_path) -> str:
    path = str(tmp_path / "modem.json")
    ctl_offline(path, "init")
    return path


@pytest.fixture
def modem(state):
    m = StdioModem(state)
    yield m
    m.close()


def gammu_path():
    return shutil.which("gammu")


needs_gammu = pytest.mark.skipif(
    gammu_path() is None,
    reason="the gammu command line is not installed (Debian package 'gammu'); "
           "the emulator's realism checks need it")
