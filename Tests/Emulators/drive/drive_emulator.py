#!/usr/bin/env python3
"""drive_emulator: a Google Drive API v3 + OAuth 2.0 server for tests.

Standard library only (http.server, threaded, HTTP/1.1 keep-alive). State is
in memory; the emulator outlives the clients it serves, which is what the
SIGKILL tests need. See README.md for the endpoints, the control API and
where the emulator is stricter than Google.

Start: drive_emulator.py [--host 127.0.0.1] [--port 0] [--client-id ID]
[--client-secret S] [--token-lifetime 3599] [--device-interval 5]
[--device-expires 1800]; the first line on stdout is `PORT <n>`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 256 * 1024
FOLDER = "application/vnd.google-apps.folder"
GOOGLE_APPS = "application/vnd.google-apps."
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
EXPORT_FORMATS = {
    "application/vnd.google-apps.document": {
        "text/plain", "application/pdf", "text/html", "application/rtf",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    },
    "application/vnd.google-apps.spreadsheet": {
        "text/csv", "application/pdf",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    },
}
DEFAULT_LIST_FILE_FIELDS = ["kind", "id", "name", "mimeType"]
DEFAULT_GET_FIELDS = ["kind", "id", "name", "mimeType"]


def rfc3339(t: float) -> str:
    d = datetime.fromtimestamp(t, tz=timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def new_id(n: int = 33) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "1" + "".join(secrets.choice(alphabet) for _ in range(n - 1))


class ApiError(Exception):
    """An error answered in Google's JSON shape:
    {"error": {"code", "message", "errors": [{"message", "domain", "reason",
    "location"?, "locationType"?}], "status"?}}."""

    def __init__(self, code: int, reason: str, message: str, domain: str = "global",
                 location: str | None = None, location_type: str | None = None,
                 status: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.domain = code, reason, message, domain
        self.location, self.location_type, self.status = location, location_type, status
        self.headers = headers or {}

    def body(self) -> dict:
        item = {"message": self.message, "domain": self.domain, "reason": self.reason}
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        err = {"code": self.code, "message": self.message, "errors": [item]}
        if self.status:
            err["status"] = self.status
        return {"error": err}


def not_found(file_id: str) -> ApiError:
    return ApiError(404, "notFound", f"File not found: {file_id}.", location="fileId")


def invalid(message: str, location: str) -> ApiError:
    return ApiError(400, "invalid", message, location=location, status="INVALID_ARGUMENT")


class OAuthError(Exception):
    """An OAuth token-endpoint error: {"error": ..., "error_description": ...}."""

    def __init__(self, http: int, error: str, description: str):
        super().__init__(error)
        self.http, self.error, self.description = http, error, description


# MARK: - q (a subset of the Drive search grammar)

Q_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\{|\}|<=|>=|<|>)|(?P<word>[A-Za-z_]+))")


def q_tokens(q: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(q):
        if q[pos:].strip() == "":
            break
        m = Q_TOKEN.match(q, pos)
        if not m:
            raise invalid(f"Invalid Value (q at offset {pos})", "q")
        pos = m.end()
        if m.group("str") is not None:
            out.append(("str", re.sub(r"\\(.)", r"\1", m.group("str")[1:-1])))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            out.append(("word", m.group("word")))
    return out


def parse_q(q: str, resolve=lambda x: x):
    """Returns a predicate over file records. Supported terms, joined by
    `and`: `'<id>' in parents`, `trashed = true|false`, `name = '<s>'`,
    `name != '<s>'`, `mimeType = '<s>'`, `mimeType != '<s>'`,
    `appProperties has { key='<k>' and value='<v>' }`. Anything else is a
    400 `invalid` on `q`, as Google answers for a query it cannot parse."""
    toks = q_tokens(q)
    preds, i = [], 0

    def expect(kind, value=None):
        nonlocal i
        if i >= len(toks) or toks[i][0] != kind or (value is not None and toks[i][1].lower() != value):
            raise invalid("Invalid Value", "q")
        i += 1
        return toks[i - 1][1]

    while True:
        if i >= len(toks):
            raise invalid("Invalid Value", "q")
        kind, val = toks[i]
        if kind == "str":
            i += 1
            expect("word", "in")
            expect("word", "parents")
            preds.append(lambda f, p=resolve(val): p in f["parents"])
        elif kind == "word" and val == "trashed":
            i += 1
            expect("op", "=")
            b = expect("word").lower()
            if b not in ("true", "false"):
                raise invalid("Invalid Value", "q")
            preds.append(lambda f, t=(b == "true"): f["trashed"] == t)
        elif kind == "word" and val in ("name", "mimeType"):
            i += 1
            op = expect("op")
            if op not in ("=", "!="):
                raise invalid("Invalid Value", "q")
            s = expect("str")
            if op == "=":
                preds.append(lambda f, k=val, s=s: f[k] == s)
            else:
                preds.append(lambda f, k=val, s=s: f[k] != s)
        elif kind == "word" and val == "appProperties":
            i += 1
            expect("word", "has")
            expect("op", "{")
            expect("word", "key")
            expect("op", "=")
            k = expect("str")
            expect("word", "and")
            expect("word", "value")
            expect("op", "=")
            v = expect("str")
            expect("op", "}")
            preds.append(lambda f, k=k, v=v: f.get("appProperties", {}).get(k) == v)
        else:
            raise invalid("Invalid Value", "q")
        if i == len(toks):
            break
        expect("word", "and")
    return lambda f: all(p(f) for p in preds)


# MARK: - fields (partial response)

def parse_fields(s: str):
    """`a,b(c,d),e/f` → {"a": None, "b": {"c": None, "d": None}, "e": {"f": None}}.
    Raises invalid on unbalanced parentheses."""
    pos = 0

    def parse_list(end: str | None):
        nonlocal pos
        out: dict = {}
        while True:
            m = re.compile(r"\s*([A-Za-z_*][A-Za-z0-9_*]*)").match(s, pos)
            if not m:
                raise invalid(f"Invalid field selection {s}", "fields")
            pos = m.end()
            name = m.group(1)
            node = None
            if pos < len(s) and s[pos] == "(":
                pos += 1
                node = parse_list(")")
            elif pos < len(s) and s[pos] == "/":
                pos += 1
                sub = parse_list("/")
                node = sub
            out[name] = node
            while pos < len(s) and s[pos] == " ":
                pos += 1
            if pos < len(s) and s[pos] == ",":
                if end == "/":
                    return out
                pos += 1
                continue
            if end == ")":
                if pos < len(s) and s[pos] == ")":
                    pos += 1
                    return out
                raise invalid(f"Invalid field selection {s}", "fields")
            if end == "/":
                return out
            if pos != len(s):
                raise invalid(f"Invalid field selection {s}", "fields")
            return out

    result = parse_list(None)
    return result


def apply_fields(obj, sel):
    if sel is None or not isinstance(obj, (dict, list)):
        return obj
    if isinstance(obj, list):
        return [apply_fields(x, sel) for x in obj]
    if "*" in sel:
        return obj
    return {k: apply_fields(obj[k], sub) for k, sub in sel.items() if k in obj}


# MARK: - State

class Faults:
    """Fault rules, consumed in order. A rule:
    {"method": "PUT"?, "path": "<prefix>"?, "action": "status"|"cut"|"drop"|"delay",
     "status": 503, "reason": "backendError", "after": <bytes>, "seconds": 1.5,
     "count": 1, "skip": 0}.
    `status` answers the error (429/403 → Google's rate-limit shapes), `cut`
    reads `after` bytes of the request body (or sends `after` bytes of the
    response body) then closes the connection, `drop` processes the request
    and closes without answering (an ambiguous failure), `delay` sleeps then
    proceeds. `skip` lets that many matching requests through first."""

    def __init__(self):
        self.rules: list[dict] = []
        self.offline = False

    def take(self, method: str, path: str):
        for r in self.rules:
            if r.get("method") and r["method"] != method:
                continue
            if r.get("path") and not path.startswith(r["path"]):
                continue
            if r.get("skip", 0) > 0:
                r["skip"] -= 1
                continue
            r["count"] = r.get("count", 1) - 1
            if r["count"] <= 0:
                self.rules.remove(r)
            return dict(r)
        return None


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.args = args
        self.client_id = args.client_id
        self.client_secret = args.client_secret
        self.token_lifetime = args.token_lifetime
        self.device_interval = args.device_interval
        self.device_expires = args.device_expires
        self.faults = Faults()
        self.reset()

    def reset(self):
        self.files: dict[str, dict] = {}
        self.content: dict[str, bytes] = {}
        self.devices: dict[str, dict] = {}
        self.access: dict[str, float] = {}
        self.refresh: dict[str, str] = {}  # refresh token → scope
        self.sessions: dict[str, dict] = {}
        self.changes: list[dict] = []
        self.requests: list[dict] = []
        self.upload_bytes = 0
        self.resent_bytes = 0
        self.faults = Faults()
        now = time.time()
        self.root_id = "0AROOT" + new_id(13)
        self.files[self.root_id] = {
            "id": self.root_id, "name": "My Drive", "mimeType": FOLDER, "parents": [],
            "trashed": False, "createdTime": now, "modifiedTime": now, "version": 1,
            "appProperties": {},
        }

    # Files

    def resolve(self, file_id: str) -> str:
        return self.root_id if file_id == "root" else file_id

    def get(self, file_id: str) -> dict:
        f = self.files.get(self.resolve(file_id))
        if f is None:
            raise not_found(file_id)
        return f

    def record_change(self, file_id: str, removed: bool = False):
        self.changes.append({"fileId": file_id, "time": time.time(), "removed": removed})

    def create(self, meta: dict, data: bytes | None) -> dict:
        now = time.time()
        parents = [self.resolve(p) for p in meta.get("parents") or [self.root_id]]
        for p in parents:
            if self.get(p)["mimeType"] != FOLDER:
                raise invalid("The specified parent is not a folder.", "parents")
        mime = meta.get("mimeType") or ("application/octet-stream" if data is not None else "application/octet-stream")
        f = {
            "id": new_id(), "name": meta.get("name", "Untitled"), "mimeType": mime, "parents": parents,
            "trashed": bool(meta.get("trashed", False)), "createdTime": now,
            "modifiedTime": parse_time(meta["modifiedTime"]) if "modifiedTime" in meta else now,
            "version": 1, "appProperties": dict(meta.get("appProperties") or {}),
        }
        self.files[f["id"]] = f
        if not mime.startswith(GOOGLE_APPS):
            self.content[f["id"]] = data or b""
        elif data is not None and mime != FOLDER:
            self.content[f["id"]] = data  # a Doc's text, served by export
        self.record_change(f["id"])
        return f

    def update(self, file_id: str, meta: dict, data: bytes | None, add_parents: str = "",
               remove_parents: str = "") -> dict:
        f = self.get(file_id)
        for key in ("name", "trashed", "mimeType"):
            if key in meta:
                f[key] = meta[key]
        if "modifiedTime" in meta:
            f["modifiedTime"] = parse_time(meta["modifiedTime"])
        elif data is not None:
            f["modifiedTime"] = time.time()
        if "appProperties" in meta:
            for k, v in (meta["appProperties"] or {}).items():
                if v is None:
                    f["appProperties"].pop(k, None)
                else:
                    f["appProperties"][k] = v
        if "parents" in meta:
            raise ApiError(403, "parentsNotWritable",
                           "The parents field is not directly writable in update requests. "
                           "Use the addParents and removeParents parameters instead.")
        for p in filter(None, remove_parents.split(",")):
            f["parents"] = [x for x in f["parents"] if x != self.resolve(p)]
        for p in filter(None, add_parents.split(",")):
            pid = self.resolve(p)
            if self.get(pid)["mimeType"] != FOLDER:
                raise invalid("The specified parent is not a folder.", "addParents")
            if pid not in f["parents"]:
                f["parents"].append(pid)
        if data is not None:
            self.content[f["id"]] = data
        f["version"] += 1
        self.record_change(f["id"])
        return f

    def delete(self, file_id: str):
        fid = self.resolve(file_id)
        self.get(fid)
        todo = [fid]
        while todo:
            x = todo.pop()
            todo.extend(k for k, v in self.files.items() if x in v["parents"])
            self.files.pop(x, None)
            self.content.pop(x, None)
            self.record_change(x, removed=True)

    def resource(self, f: dict) -> dict:
        r = {
            "kind": "drive#file", "id": f["id"], "name": f["name"], "mimeType": f["mimeType"],
            "parents": list(f["parents"]), "trashed": f["trashed"],
            "createdTime": rfc3339(f["createdTime"]), "modifiedTime": rfc3339(f["modifiedTime"]),
            "version": str(f["version"]), "appProperties": dict(f["appProperties"]),
        }
        if not f["mimeType"].startswith(GOOGLE_APPS):
            data = self.content.get(f["id"], b"")
            r["size"] = str(len(data))
            r["md5Checksum"] = hashlib.md5(data).hexdigest()
            r["headRevisionId"] = f"{f['id'][:8]}r{f['version']}"
        if f["id"] == self.root_id:
            del r["parents"]
        return r


def parse_time(s) -> float:
    if not isinstance(s, str):
        raise invalid("Invalid value for modifiedTime", "modifiedTime")
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid(f"Invalid value for modifiedTime: {s}", "modifiedTime")


# MARK: - HTTP

class CutConnection(Exception):
    """Close the connection without (more of) an answer."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""

    @property
    def st(self) -> State:
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, fmt, *args):
        if self.st.args.verbose:
            sys.stderr.write("drive-emulator: " + (fmt % args) + "\n")

    # Body reading

    def body_length(self) -> int | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        if not raw.isdigit():
            raise ApiError(400, "badRequest", "Bad Content-Length")
        return int(raw)

    def read_body(self, limit: int | None = None) -> bytes:
        """Reads the whole body; with `limit`, reads that many bytes then
        raises CutConnection (the fault `cut`)."""
        n = self.body_length()
        if n is None:
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(1024)
                    break
                data += self.rfile.read(size)
                self.rfile.readline(1024)
                if limit is not None and len(data) >= limit:
                    raise CutConnection(bytes(data[:limit]))
            return bytes(data)
        if limit is not None and limit < n:
            got = self.rfile.read(limit)
            raise CutConnection(got)
        return self.rfile.read(n)

    # Answers

    def send(self, code: int, body: bytes = b"", ctype: str | None = None, headers: dict | None = None):
        if self._drop:  # fault `drop`: the request took effect, the answer is lost
            raise CutConnection(b"")
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            cut = getattr(self, "_cut_response_after", None)
            if cut is not None and cut < len(body):
                self.wfile.write(body[:cut])
                self.wfile.flush()
                raise CutConnection(b"")
            self.wfile.write(body)

    def send_json(self, code: int, obj, headers: dict | None = None):
        self.send(code, json.dumps(obj, indent=1).encode(), "application/json; charset=UTF-8", headers)

    def send_api_error(self, e: ApiError):
        headers = {"Vary": "Origin"}
        headers.update(e.headers)
        self.send_json(e.code, e.body(), headers)

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        self._cut_response_after = None
        self._cut_request_after = None
        self._drop = False
        self._body_read = False
        drop_after = False
        status_code = 0
        try:
            if not path.startswith("/ctl/"):
                with self.st.lock:
                    rule = self.st.faults.take(self.command, path)
                    offline = self.st.faults.offline
                if offline:
                    raise CutConnection(b"")
                if rule:
                    action = rule.get("action", "status")
                    if action == "delay":
                        time.sleep(float(rule.get("seconds", 1)))
                    elif action == "status":
                        self.body()
                        raise fault_error(rule)
                    elif action == "cut":
                        after = int(rule.get("after", 0))
                        if rule.get("where", "request") == "response":
                            self._cut_response_after = after
                        else:
                            self._cut_request_after = after
                    elif action == "drop":
                        drop_after = True
            if drop_after:
                self._drop = True
            self.route(path, query)
            status_code = 200
        except CutConnection as cut:
            self.handle_cut(path, query, cut.args[0] if cut.args else b"")
            self.close_connection = True
            status_code = -1
        except ApiError as e:
            status_code = e.code
            self.drain()
            self.answer_error(lambda: self.send_api_error(e))
        except OAuthError as e:
            status_code = e.http
            self.drain()
            self.answer_error(lambda: self.send_json(e.http, {"error": e.error, "error_description": e.description}))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        with self.st.lock:
            self.st.requests.append({"method": self.command, "path": path, "query": query, "status": status_code})

    def answer_error(self, send):
        try:
            send()
        except (CutConnection, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def drain(self):
        if not getattr(self, "_body_read", False):
            try:
                self.read_body()
            except Exception:
                self.close_connection = True

    def body(self) -> bytes:
        limit = getattr(self, "_cut_request_after", None)
        self._cut_request_after = None
        data = self.read_body(limit)
        self._body_read = True
        return data

    def handle_cut(self, path: str, query: dict, partial: bytes):
        """A connection cut while receiving a resumable chunk: the bytes that
        arrived are committed rounded down to 256 KiB, as a server may do."""
        upload_id = query.get("upload_id")
        if partial and upload_id:
            with self.st.lock:
                s = self.st.sessions.get(upload_id)
                rng = parse_content_range(self.headers.get("Content-Range", ""))
                if s and rng and rng[0] is not None and rng[0] <= s["committed"]:
                    usable = (rng[0] + len(partial)) // CHUNK * CHUNK
                    self.st.upload_bytes += len(partial)
                    s["received"] += len(partial)
                    overlap = max(0, min(s["committed"], rng[0] + len(partial)) - rng[0])
                    s["resent"] += overlap
                    self.st.resent_bytes += overlap
                    if usable > s["committed"]:
                        s["data"] += partial[s["committed"] - rng[0]:usable - rng[0]]
                        s["committed"] = usable

    def route(self, path: str, q: dict):
        m = self.command
        if path.startswith("/ctl/"):
            return self.ctl(path[5:], q)
        if path == "/device/code" and m == "POST":
            return self.device_code()
        if path == "/token" and m == "POST":
            return self.token()
        if path.startswith("/drive/v3/") or path.startswith("/upload/drive/v3/"):
            if path.startswith("/upload/") and "upload_id" in q and m == "PUT":
                return self.session_put(q)
            self.authorize()
            if path.startswith("/upload/drive/v3/files"):
                rest = path[len("/upload/drive/v3/files"):]
                if rest == "" and m == "POST":
                    return self.upload(None, q)
                if rest.startswith("/") and m == "PATCH":
                    return self.upload(urllib.parse.unquote(rest[1:]), q)
            elif path == "/drive/v3/files":
                if m == "GET":
                    return self.files_list(q)
                if m == "POST":
                    meta = self.json_body()
                    with self.st.lock:
                        f = self.st.create(meta, None)
                        return self.send_json(200, self.fields(self.st.resource(f), q, DEFAULT_GET_FIELDS))
            elif path.startswith("/drive/v3/files/"):
                rest = urllib.parse.unquote(path[len("/drive/v3/files/"):])
                if rest.endswith("/export") and m == "GET":
                    return self.export(rest[:-len("/export")], q)
                if "/" not in rest:
                    if m == "GET":
                        return self.files_get(rest, q)
                    if m == "PATCH":
                        meta = self.json_body()
                        with self.st.lock:
                            f = self.st.update(rest, meta, None, q.get("addParents", ""), q.get("removeParents", ""))
                            return self.send_json(200, self.fields(self.st.resource(f), q, DEFAULT_GET_FIELDS))
                    if m == "DELETE":
                        self.body()
                        with self.st.lock:
                            self.st.delete(rest)
                        return self.send(204)
            elif path == "/drive/v3/changes/startPageToken" and m == "GET":
                with self.st.lock:
                    return self.send_json(200, {"kind": "drive#startPageToken",
                                                "startPageToken": str(len(self.st.changes) + 1)})
            elif path == "/drive/v3/changes" and m == "GET":
                return self.changes_list(q)
            elif path == "/drive/v3/about" and m == "GET":
                if "fields" not in q:
                    raise invalid("The 'fields' parameter is required for this method.", "fields")
                with self.st.lock:
                    usage = sum(len(v) for v in self.st.content.values())
                about = {"kind": "drive#about", "storageQuota": {
                    "limit": str(15 * 1024 ** 3), "usage": str(usage), "usageInDrive": str(usage),
                    "usageInDriveTrash": "0"}, "user": {"kind": "drive#user", "displayName": "Test User",
                                                         "emailAddress": "test@example.com"}}
                return self.send_json(200, self.fields(about, q, []))
        raise ApiError(404, "notFound", "Not Found")

    # Helpers

    def json_body(self) -> dict:
        raw = self.body()
        if not raw:
            return {}
        try:
            obj = json.loads(raw)
        except ValueError:
            raise ApiError(400, "parseError", "Parse Error")
        if not isinstance(obj, dict):
            raise ApiError(400, "parseError", "Parse Error")
        return obj

    def fields(self, obj: dict, q: dict, default: list[str]):
        if "fields" in q:
            return apply_fields(obj, parse_fields(q["fields"]))
        return {k: obj[k] for k in default if k in obj} if default else obj

    def authorize(self):
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.st.lock:
            exp = self.st.access.get(token)
        if exp is None or exp < time.time():
            raise ApiError(401, "authError",
                           "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                           "login cookie or other valid authentication credential.",
                           location="Authorization", location_type="header", status="UNAUTHENTICATED",
                           headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})

    # OAuth

    def form(self) -> dict:
        raw = self.body().decode("utf-8", "replace")
        return {k: v[-1] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}

    def check_client(self, f: dict, secret_required: bool):
        if f.get("client_id") != self.st.client_id:
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        if secret_required and f.get("client_secret") != self.st.client_secret:
            raise OAuthError(401, "invalid_client", "Unauthorized")

    def device_code(self):
        f = self.form()
        self.check_client(f, False)
        if not f.get("scope"):
            raise OAuthError(400, "invalid_scope", "Some requested scopes were invalid.")
        scopes = f["scope"].split()
        if "https://www.googleapis.com/auth/drive" in scopes:
            raise OAuthError(400, "invalid_scope", "Some requested scopes were invalid. "
                             "{invalid=[https://www.googleapis.com/auth/drive]}")
        with self.st.lock:
            code = "AH-" + secrets.token_urlsafe(32)
            user = "-".join("".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(4)) for _ in range(3))
            self.st.devices[code] = {"user_code": user, "state": "pending", "scope": f["scope"],
                                     "expires": time.time() + self.st.device_expires,
                                     "interval": self.st.device_interval, "last": 0.0, "polls": 0}
        base = f"http://{self.headers.get('Host', 'localhost')}"
        self.send_json(200, {"device_code": code, "user_code": user,
                             "expires_in": self.st.device_expires, "interval": self.st.device_interval,
                             "verification_url": base + "/device"})

    def issue(self, scope: str, refresh: str | None = None) -> dict:
        access = "ya29." + secrets.token_urlsafe(40)
        self.st.access[access] = time.time() + self.st.token_lifetime
        out = {"access_token": access, "expires_in": self.st.token_lifetime, "scope": scope,
               "token_type": "Bearer"}
        if refresh is None:
            refresh = "1//" + secrets.token_urlsafe(40)
            self.st.refresh[refresh] = scope
            out["refresh_token"] = refresh
        return out

    def token(self):
        f = self.form()
        grant = f.get("grant_type", "")
        if grant == DEVICE_GRANT:
            self.check_client(f, True)
            with self.st.lock:
                d = self.st.devices.get(f.get("device_code", ""))
                if d is None:
                    raise OAuthError(400, "invalid_grant", "Malformed auth code.")
                now = time.time()
                d["polls"] += 1
                if now > d["expires"]:
                    raise OAuthError(400, "expired_token", "Expired")
                too_fast = now - d["last"] < d["interval"] - 0.05
                d["last"] = now
                if d["state"] == "denied":
                    raise OAuthError(403, "access_denied", "Forbidden")
                if d["state"] == "used":
                    raise OAuthError(400, "invalid_grant", "Bad Request")
                if too_fast:
                    d["interval"] += 5
                    d["slow_downs"] = d.get("slow_downs", 0) + 1
                    raise OAuthError(403, "slow_down", "Forbidden")
                if d["state"] == "pending":
                    raise OAuthError(428, "authorization_pending", "Precondition Required")
                d["state"] = "used"
                return self.send_json(200, self.issue(d["scope"]))
        if grant == "refresh_token":
            self.check_client(f, True)
            with self.st.lock:
                scope = self.st.refresh.get(f.get("refresh_token", ""))
                if scope is None:
                    raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
                return self.send_json(200, self.issue(scope, refresh=f["refresh_token"]))
        raise OAuthError(400, "unsupported_grant_type", "Invalid grant_type: " + grant)

    # files.list / get / export

    def files_list(self, q: dict):
        size_raw = q.get("pageSize", "100")
        if not size_raw.isdigit() or not 1 <= int(size_raw) <= 1000:
            raise invalid(f"Invalid value '{size_raw}'. Values must be within the range: [1, 1000]", "pageSize")
        size = int(size_raw)
        pred = parse_q(q["q"], self.st.resolve) if q.get("q") else (lambda f: not f["trashed"])
        start = 0
        if q.get("pageToken"):
            try:
                tok = json.loads(base64.urlsafe_b64decode(q["pageToken"].encode()))
                start = int(tok["o"])
                assert tok["q"] == q.get("q", "")
            except Exception:
                raise invalid("Invalid Value", "pageToken")
        with self.st.lock:
            matching = sorted((f for f in self.st.files.values() if f["id"] != self.st.root_id and pred(f)),
                              key=lambda f: (f["name"], f["id"]))
            page = [self.st.resource(f) for f in matching[start:start + size]]
        out = {"kind": "drive#fileList", "incompleteSearch": False, "files": page}
        if start + size < len(matching):
            out["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"o": start + size, "q": q.get("q", "")}).encode()).decode()
        if "fields" in q:
            out = apply_fields(out, parse_fields(q["fields"]))
        else:
            out["files"] = [{k: f[k] for k in DEFAULT_LIST_FILE_FIELDS if k in f} for f in page]
        self.send_json(200, out)

    def files_get(self, file_id: str, q: dict):
        with self.st.lock:
            f = self.st.get(file_id)
            res = self.st.resource(f)
            data = self.st.content.get(f["id"], b"")
        if q.get("alt") != "media":
            return self.send_json(200, self.fields(res, q, DEFAULT_GET_FIELDS))
        if f["mimeType"].startswith(GOOGLE_APPS):
            raise ApiError(403, "fileNotDownloadable",
                           "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
                           location="alt")
        headers = {"X-Goog-Hash": "md5=" + base64.b64encode(hashlib.md5(data).digest()).decode(),
                   "Accept-Ranges": "bytes"}
        rng = self.headers.get("Range")
        if rng:
            span = parse_range(rng, len(data))
            if span is None:
                return self.send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
            a, b = span
            headers["Content-Range"] = f"bytes {a}-{b}/{len(data)}"
            return self.send(206, data[a:b + 1], "application/octet-stream", headers)
        self.send(200, data, "application/octet-stream", headers)

    def export(self, file_id: str, q: dict):
        mime = q.get("mimeType")
        if not mime:
            raise ApiError(400, "required", "Required parameter: mimeType", location="mimeType")
        with self.st.lock:
            f = self.st.get(file_id)
            text = self.st.content.get(f["id"], b"")
        formats = EXPORT_FORMATS.get(f["mimeType"])
        if formats is None:
            raise ApiError(403, "fileNotExportable", "Export only supports Docs Editors files.", location="fileId")
        if mime not in formats:
            raise ApiError(400, "badRequest", "The requested conversion is not supported.",
                           location="convertTo")
        body = text if mime in ("text/plain", "text/csv") else b"%EXPORT " + mime.encode() + b"\n" + text
        self.send(200, body, mime)

    def changes_list(self, q: dict):
        tok = q.get("pageToken", "")
        size_raw = q.get("pageSize", "100")
        if not tok.isdigit() or int(tok) < 1:
            raise invalid("Invalid Value", "pageToken")
        if not size_raw.isdigit() or not 1 <= int(size_raw) <= 1000:
            raise invalid(f"Invalid value '{size_raw}'. Values must be within the range: [1, 1000]", "pageSize")
        start, size = int(tok) - 1, int(size_raw)
        with self.st.lock:
            if start > len(self.st.changes):
                raise invalid("Invalid Value", "pageToken")
            chunk = self.st.changes[start:start + size]
            out_changes = []
            for c in chunk:
                ch = {"kind": "drive#change", "changeType": "file", "time": rfc3339(c["time"]),
                      "removed": c["removed"] or c["fileId"] not in self.st.files, "fileId": c["fileId"]}
                if not ch["removed"]:
                    ch["file"] = self.st.resource(self.st.files[c["fileId"]])
                out_changes.append(ch)
            out = {"kind": "drive#changeList", "changes": out_changes}
            if start + size < len(self.st.changes):
                out["nextPageToken"] = str(start + size + 1)
            else:
                out["newStartPageToken"] = str(len(self.st.changes) + 1)
        if "fields" in q:
            out = apply_fields(out, parse_fields(q["fields"]))
        self.send_json(200, out)

    # Uploads

    def upload(self, file_id: str | None, q: dict):
        kind = q.get("uploadType", "")
        if kind == "media":
            data = self.body()
            with self.st.lock:
                self.st.upload_bytes += len(data)
                meta = {"mimeType": self.headers.get("Content-Type", "application/octet-stream")}
                f = self.st.create(meta, data) if file_id is None else self.st.update(file_id, {}, data)
                return self.send_json(200, self.fields(self.st.resource(f), q, DEFAULT_GET_FIELDS))
        if kind == "multipart":
            meta, data, mime = parse_multipart(self.headers.get("Content-Type", ""), self.body())
            with self.st.lock:
                self.st.upload_bytes += len(data)
                if mime and "mimeType" not in meta:
                    meta["mimeType"] = mime
                if file_id is None:
                    f = self.st.create(meta, data)
                else:
                    f = self.st.update(file_id, meta, data, q.get("addParents", ""), q.get("removeParents", ""))
                return self.send_json(200, self.fields(self.st.resource(f), q, DEFAULT_GET_FIELDS))
        if kind == "resumable":
            meta = self.json_body()
            total_raw = self.headers.get("X-Upload-Content-Length")
            if total_raw is not None and not total_raw.isdigit():
                raise ApiError(400, "badRequest", "Invalid X-Upload-Content-Length")
            with self.st.lock:
                if file_id is not None:
                    self.st.get(file_id)
                sid = secrets.token_urlsafe(24)
                self.st.sessions[sid] = {
                    "id": sid, "file_id": file_id, "meta": meta, "q": dict(q),
                    "total": int(total_raw) if total_raw is not None else None,
                    "mime": self.headers.get("X-Upload-Content-Type"), "data": bytearray(),
                    "committed": 0, "received": 0, "resent": 0, "puts": 0, "done": None, "expired": False,
                    "created": time.time(),
                }
            host = self.headers.get("Host", "localhost")
            qs = urllib.parse.urlencode({"uploadType": "resumable", "upload_id": sid})
            suffix = "" if file_id is None else "/" + urllib.parse.quote(file_id)
            return self.send(200, b"", None, {"Location": f"http://{host}/upload/drive/v3/files{suffix}?{qs}",
                                              "X-GUploader-UploadID": sid})
        raise invalid(f"Invalid value '{kind}'. Values must be one of: media, multipart, resumable", "uploadType")

    def session_put(self, q: dict):
        sid = q["upload_id"]
        with self.st.lock:
            s = self.st.sessions.get(sid)
            if s is not None:
                s["puts"] += 1
        if s is None or s["expired"]:
            self.body()
            raise ApiError(404, "notFound", "Upload session expired or not found.")
        cr = self.headers.get("Content-Range", "")
        rng = parse_content_range(cr)
        if rng is None:
            self.body()
            raise ApiError(400, "badRequest", f"Failed to parse Content-Range header: {cr!r}")
        first, last, total = rng
        data = self.body()
        with self.st.lock:
            if s["done"] is not None:
                f = self.st.files.get(s["done"])
                if f is None:
                    raise ApiError(404, "notFound", "Upload session expired or not found.")
                return self.send_json(200, self.fields(self.st.resource(f), s["q"], DEFAULT_GET_FIELDS))
            self.st.upload_bytes += len(data)
            s["received"] += len(data)
            if total is not None:
                if s["total"] is not None and s["total"] != total:
                    raise ApiError(400, "badRequest", "Content-Range total does not match X-Upload-Content-Length")
                s["total"] = total
            if first is None:  # status query: bytes */N or bytes */*
                if data:
                    raise ApiError(400, "badRequest", "A status query must have an empty body")
            else:
                if last - first + 1 != len(data):
                    raise ApiError(400, "badRequest", "Content-Range length does not match the body length")
                if first > s["committed"]:
                    raise ApiError(400, "badRequest",
                                   f"Chunk starts at {first} but only {s['committed']} bytes were received")
                final = s["total"] is not None and last + 1 == s["total"]
                if not final and len(data) % CHUNK != 0:
                    raise ApiError(400, "badRequest", "Chunk size must be a multiple of 256 KiB (262144 bytes)")
                if s["total"] is not None and last + 1 > s["total"]:
                    raise ApiError(400, "badRequest", "Content-Range beyond the declared total")
                overlap = max(0, min(s["committed"], last + 1) - first)
                s["resent"] += overlap
                self.st.resent_bytes += overlap
                s["data"] += data[overlap:]
                s["committed"] = max(s["committed"], last + 1)
            if s["total"] is not None and s["committed"] == s["total"]:
                meta = dict(s["meta"])
                if s["mime"] and "mimeType" not in meta:
                    meta["mimeType"] = s["mime"]
                if s["file_id"] is None:
                    f = self.st.create(meta, bytes(s["data"]))
                else:
                    f = self.st.update(s["file_id"], meta, bytes(s["data"]),
                                       s["q"].get("addParents", ""), s["q"].get("removeParents", ""))
                s["done"] = f["id"]
                res = self.fields(self.st.resource(f), s["q"], DEFAULT_GET_FIELDS)
                return self.send_json(200, res)
            headers = {"X-GUploader-UploadID": sid}
            if s["committed"] > 0:
                headers["Range"] = f"bytes=0-{s['committed'] - 1}"
        self.send(308, b"", "text/plain; charset=utf-8", headers)

    # Control

    def ctl(self, op: str, q: dict):
        req = self.json_body() if self.command == "POST" else {}
        st = self.st
        with st.lock:
            if op == "state":
                return self.send_json(200, {
                    "root": st.root_id,
                    "files": [st.resource(f) for f in st.files.values() if f["id"] != st.root_id],
                    "upload_bytes": st.upload_bytes, "resent_bytes": st.resent_bytes,
                    "sessions": {k: {kk: vv for kk, vv in v.items() if kk not in ("data", "meta", "q")}
                                 for k, v in st.sessions.items()},
                    "requests": st.requests,
                    "devices": {v["user_code"]: {"state": v["state"], "polls": v["polls"],
                                                 "interval": v["interval"],
                                                 "slow_downs": v.get("slow_downs", 0)}
                                for v in st.devices.values()},
                    "rules": st.faults.rules, "offline": st.faults.offline,
                })
            if op in ("approve", "deny", "expire_device"):
                for d in st.devices.values():
                    if d["user_code"] == req.get("user_code") or req.get("user_code") == "*":
                        if op == "approve":
                            d["state"] = "approved"
                        elif op == "deny":
                            d["state"] = "denied"
                        else:
                            d["expires"] = 0
                return self.send_json(200, {"ok": True})
            if op == "issue":  # tokens without the device flow
                return self.send_json(200, self.issue(req.get("scope", "https://www.googleapis.com/auth/drive.file")))
            if op == "expire_access":
                st.access = {k: 0.0 for k in st.access}
                return self.send_json(200, {"ok": True})
            if op == "revoke":
                st.refresh.clear()
                st.access.clear()
                return self.send_json(200, {"ok": True})
            if op == "fault":
                st.faults.rules.append(req)
                return self.send_json(200, {"ok": True})
            if op == "offline":
                st.faults.offline = bool(req.get("offline", True))
                return self.send_json(200, {"ok": True})
            if op == "clear_faults":
                st.faults = Faults()
                return self.send_json(200, {"ok": True})
            if op == "expire_session":
                for s in st.sessions.values():
                    if req.get("upload_id") in (s["id"], "*"):
                        s["expired"] = True
                return self.send_json(200, {"ok": True})
            if op == "file":  # seed a file, e.g. a Google Doc; "count": n seeds name0..name(n-1)
                content = base64.b64decode(req.pop("content_b64")) if "content_b64" in req else \
                    req.pop("content", "").encode()
                count = req.pop("count", None)
                if count is None:
                    return self.send_json(200, st.resource(st.create(req, content)))
                base = req.get("name", "f")
                for i in range(int(count)):
                    st.create({**req, "name": f"{base}{i}"}, content)
                return self.send_json(200, {"ok": True, "created": int(count)})
            if op == "content":
                f = st.get(q.get("id", ""))
                return self.send(200, st.content.get(f["id"], b""), "application/octet-stream")
            if op == "reset":
                st.reset()
                return self.send_json(200, {"ok": True})
        raise ApiError(404, "notFound", f"no control operation {op!r}")


def fault_error(rule: dict) -> ApiError:
    code = int(rule.get("status", 503))
    reason = rule.get("reason")
    if code == 429:
        return ApiError(429, reason or "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits",
                        status="RESOURCE_EXHAUSTED")
    if code == 403:
        reason = reason or "userRateLimitExceeded"
        msg = {"userRateLimitExceeded": "User Rate Limit Exceeded", "rateLimitExceeded": "Rate Limit Exceeded",
               "dailyLimitExceeded": "Daily Limit Exceeded"}.get(reason, "Forbidden")
        return ApiError(403, reason, msg, domain="usageLimits", status="PERMISSION_DENIED")
    if code >= 500:
        return ApiError(code, reason or "backendError", "Backend Error")
    return ApiError(code, reason or "badRequest", rule.get("message", "Bad Request"))


def parse_range(header: str, size: int):
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0 or size == 0:
            return None
        return max(0, size - n), size - 1
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) else size - 1
    if a >= size or b < a:
        return None
    return a, min(b, size - 1)


def parse_content_range(h: str):
    """`bytes a-b/N`, `bytes a-b/*`, `bytes */N`, `bytes */*` → (a|None, b|None, N|None)."""
    m = re.fullmatch(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)", h.strip())
    if not m:
        return None
    total = None if m.group(3) == "*" else int(m.group(3))
    if m.group(1) is None:
        return None, None, total
    a, b = int(m.group(1)), int(m.group(2))
    if b < a:
        return None
    return a, b, total


def parse_multipart(ctype: str, body: bytes):
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.startswith("multipart/related") or not m:
        raise ApiError(400, "badContent", "Multipart upload needs Content-Type multipart/related with a boundary")
    sep = b"--" + m.group(1).encode()
    parts = body.split(sep)
    if len(parts) < 4 or not parts[-1].startswith(b"--"):
        raise ApiError(400, "badContent", "Malformed multipart body")
    out = []
    for p in parts[1:3]:
        head, _, data = p.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        ctype_m = re.search(rb"(?i)content-type:\s*([^\r\n]+)", head)
        out.append((ctype_m.group(1).decode().strip() if ctype_m else "", data))
    try:
        meta = json.loads(out[0][1] or b"{}")
    except ValueError:
        raise ApiError(400, "parseError", "Parse Error")
    return meta, out[1][1], out[1][0] or None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--client-id", default="test-client.apps.googleusercontent.com")
    ap.add_argument("--client-secret", default="test-secret")
    ap.add_argument("--token-lifetime", type=int, default=3599)
    ap.add_argument("--device-interval", type=int, default=5)
    ap.add_argument("--device-expires", type=int, default=1800)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)  # type: ignore[attr-defined]
    # A parent may have blocked or ignored SIGTERM (Foundation's Process does): restore it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
