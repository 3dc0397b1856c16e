"""Starts drive_emulator.py and gives a small HTTP client (not named
conftest.py: the atmodem tests import names from their own `conftest`
module, and two conftest modules would shadow each other)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.parse


HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "drive_emulator.py")
CLIENT_ID = "test-client.apps.googleusercontent.com"
CLIENT_SECRET = "test-secret"


class Emu:
    def __init__(self, port: int):
        self.port = port
        self.host = "127.0.0.1"

    def request(self, method: str, path: str, body: bytes | str | dict | None = None, headers: dict | None = None,
                token: str | None = None, form: dict | None = None, conn: http.client.HTTPConnection | None = None):
        """Returns (status, headers dict lower-cased, body bytes)."""
        headers = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json; charset=UTF-8")
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if isinstance(body, str):
            body = body.encode()
        if token:
            headers["Authorization"] = "Bearer " + token
        c = conn or http.client.HTTPConnection(self.host, self.port, timeout=20)
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if conn is None:
                c.close()

    def json(self, method: str, path: str, **kw):
        status, headers, data = self.request(method, path, **kw)
        return status, (json.loads(data) if data else None), headers

    def ctl(self, op: str, **req):
        status, body, _ = self.json("POST", "/ctl/" + op, body=req)
        assert status == 200, body
        return body

    def state(self):
        return self.json("GET", "/ctl/state")[1]

    def token(self) -> str:
        return self.ctl("issue")["access_token"]


def start():
    """Starts an emulator; yields it, stops it."""
    proc = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--device-interval", "1",
                             "--device-expires", "30"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield Emu(int(line.split()[1]))
    proc.terminate()
    proc.wait(timeout=10)
