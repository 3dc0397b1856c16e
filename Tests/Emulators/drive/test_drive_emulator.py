"""The Drive emulator against Google's documented behaviour."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import time
import urllib.parse

import pytest

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import driveemu  # noqa: E402
from driveemu import CLIENT_ID, CLIENT_SECRET  # noqa: E402

CHUNK = 256 * 1024


@pytest.fixture
def emu():
    yield from driveemu.start()


SCOPE = "https://www.googleapis.com/auth/drive.file"


def start_device(emu):
    status, body, _ = emu.json("POST", "/device/code", form={"client_id": CLIENT_ID, "scope": SCOPE})
    assert status == 200, body
    return body


def poll(emu, code):
    return emu.json("POST", "/token", form={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                             "device_code": code, "grant_type":
                                             "urn:ietf:params:oauth:grant-type:device_code"})


# MARK: OAuth

def test_device_flow_pending_then_approved(emu):
    d = start_device(emu)
    assert set(d) == {"device_code", "user_code", "expires_in", "interval", "verification_url"}
    assert d["interval"] == 1
    status, body, _ = poll(emu, d["device_code"])
    assert (status, body["error"]) == (428, "authorization_pending")
    emu.ctl("approve", user_code=d["user_code"])
    time.sleep(1.1)
    status, body, _ = poll(emu, d["device_code"])
    assert status == 200, body
    assert body["token_type"] == "Bearer" and body["scope"] == SCOPE
    assert body["refresh_token"].startswith("1//") and body["expires_in"] == 3599
    # The code is single use.
    time.sleep(1.1)
    status, body, _ = poll(emu, d["device_code"])
    assert (status, body["error"]) == (400, "invalid_grant")


def test_device_flow_slow_down_adds_five_seconds(emu):
    d = start_device(emu)
    poll(emu, d["device_code"])
    status, body, _ = poll(emu, d["device_code"])
    assert (status, body["error"]) == (403, "slow_down")
    assert emu.state()["devices"][d["user_code"]]["interval"] == 6


def test_device_flow_denied_and_expired(emu):
    d = start_device(emu)
    emu.ctl("deny", user_code=d["user_code"])
    status, body, _ = poll(emu, d["device_code"])
    assert (status, body["error"]) == (403, "access_denied")
    d2 = start_device(emu)
    emu.ctl("expire_device", user_code=d2["user_code"])
    status, body, _ = poll(emu, d2["device_code"])
    assert (status, body["error"]) == (400, "expired_token")


def test_device_flow_refuses_full_drive_scope_and_unknown_client(emu):
    status, body, _ = emu.json("POST", "/device/code", form={"client_id": CLIENT_ID,
                                                             "scope": "https://www.googleapis.com/auth/drive"})
    assert (status, body["error"]) == (400, "invalid_scope")
    status, body, _ = emu.json("POST", "/device/code", form={"client_id": "nope", "scope": SCOPE})
    assert (status, body["error"]) == (401, "invalid_client")


def test_refresh_grant_and_invalid_grant(emu):
    tok = emu.ctl("issue")
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "refresh_token",
            "refresh_token": tok["refresh_token"]}
    status, body, _ = emu.json("POST", "/token", form=form)
    assert status == 200 and "refresh_token" not in body and body["access_token"] != tok["access_token"]
    emu.ctl("revoke")
    status, body, _ = emu.json("POST", "/token", form=form)
    assert (status, body) == (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    status, body, _ = emu.json("POST", "/token", form={**form, "grant_type": "password"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    status, body, _ = emu.json("POST", "/token", form={**form, "client_secret": "wrong"})
    assert (status, body["error"]) == (401, "invalid_client")


def test_expired_access_token_is_401_in_google_shape(emu):
    token = emu.token()
    assert emu.json("GET", "/drive/v3/files", token=token)[0] == 200
    emu.ctl("expire_access")
    status, body, headers = emu.json("GET", "/drive/v3/files", token=token)
    assert status == 401
    err = body["error"]
    assert err["code"] == 401 and err["status"] == "UNAUTHENTICATED"
    assert err["errors"][0] == {"message": err["message"], "domain": "global", "reason": "authError",
                                "location": "Authorization", "locationType": "header"}
    assert "www-authenticate" in headers
    assert emu.json("GET", "/drive/v3/files")[0] == 401


# MARK: files

def create(emu, token, name, parents=None, mime=None, data=None):
    meta = {"name": name}
    if parents:
        meta["parents"] = parents
    if mime:
        meta["mimeType"] = mime
    if data is None:
        status, body, _ = emu.json("POST", "/drive/v3/files?fields=id,name,parents,mimeType", body=meta, token=token)
    else:
        b = "BOUNDARY42"
        payload = (f"--{b}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(meta)}\r\n"
                   f"--{b}\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--".encode()
        status, body, _ = emu.json("POST", "/upload/drive/v3/files?uploadType=multipart&fields=*", body=payload,
                                   token=token, headers={"Content-Type": f"multipart/related; boundary={b}"})
    assert status == 200, body
    return body


def test_list_q_paging_and_fields(emu):
    t = emu.token()
    folder = create(emu, t, "dir", mime="application/vnd.google-apps.folder")
    for i in range(25):
        create(emu, t, f"f{i:02d}", parents=[folder["id"]])
    create(emu, t, "f00", parents=[folder["id"]])  # a duplicate name, as Drive allows
    create(emu, t, "elsewhere")
    q = f"'{folder['id']}' in parents and trashed = false"
    names, token, pages = [], None, 0
    while True:
        params = {"q": q, "pageSize": "10", "fields": "nextPageToken,files(id,name,size,md5Checksum)"}
        if token:
            params["pageToken"] = token
        status, body, _ = emu.json("GET", "/drive/v3/files?" + urllib.parse.urlencode(params), token=t)
        assert status == 200, body
        pages += 1
        assert set(body) <= {"nextPageToken", "files"}
        assert all(set(f) == {"id", "name", "size", "md5Checksum"} for f in body["files"])
        names += [f["name"] for f in body["files"]]
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == 3 and len(names) == 26 and names.count("f00") == 2
    status, body, _ = emu.json("GET", "/drive/v3/files?" + urllib.parse.urlencode(
        {"q": f"name = 'f03' and '{folder['id']}' in parents"}), token=t)
    assert [f["name"] for f in body["files"]] == ["f03"] and set(body["files"][0]) == {"kind", "id", "name", "mimeType"}
    status, body, _ = emu.json("GET", "/drive/v3/files?" + urllib.parse.urlencode(
        {"q": "'root' in parents and trashed = false"}), token=t)
    assert sorted(f["name"] for f in body["files"]) == ["dir", "elsewhere"]


@pytest.mark.parametrize("q", ["name contains 'x'", "'abc' in", "trashed = maybe", "name = 'unterminated",
                               "name = 'a' or name = 'b'", "appProperties has { key='k' }"])
def test_list_rejects_bad_q(emu, q):
    status, body, _ = emu.json("GET", "/drive/v3/files?" + urllib.parse.urlencode({"q": q}), token=emu.token())
    assert status == 400 and body["error"]["errors"][0]["location"] == "q"


def test_list_rejects_bad_page_size_and_token(emu):
    t = emu.token()
    for size in ("0", "1001", "x"):
        status, body, _ = emu.json("GET", f"/drive/v3/files?pageSize={size}", token=t)
        assert status == 400 and body["error"]["errors"][0]["location"] == "pageSize"
    status, body, _ = emu.json("GET", "/drive/v3/files?pageToken=garbage", token=t)
    assert status == 400 and body["error"]["errors"][0]["location"] == "pageToken"


def test_app_properties_query(emu):
    t = emu.token()
    status, body, _ = emu.json("POST", "/drive/v3/files", token=t, body={"name": "a", "appProperties": {"vigieId": "u1"}})
    assert status == 200
    q = "appProperties has { key='vigieId' and value='u1' }"
    status, body, _ = emu.json("GET", "/drive/v3/files?" + urllib.parse.urlencode({"q": q}), token=t)
    assert [f["name"] for f in body["files"]] == ["a"]


def test_get_media_with_ranges(emu):
    t = emu.token()
    data = bytes(range(256)) * 10
    f = create(emu, t, "blob", data=data)
    assert f["md5Checksum"] == hashlib.md5(data).hexdigest() and f["size"] == str(len(data))
    status, h, body = emu.request("GET", f"/drive/v3/files/{f['id']}?alt=media", token=t)
    assert status == 200 and body == data
    status, h, body = emu.request("GET", f"/drive/v3/files/{f['id']}?alt=media", token=t,
                                  headers={"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200] and h["content-range"] == f"bytes 100-199/{len(data)}"
    status, h, body = emu.request("GET", f"/drive/v3/files/{f['id']}?alt=media", token=t, headers={"Range": "bytes=-10"})
    assert status == 206 and body == data[-10:]
    status, h, body = emu.request("GET", f"/drive/v3/files/{f['id']}?alt=media", token=t,
                                  headers={"Range": "bytes=99999-"})
    assert status == 416
    status, body, _ = emu.json("GET", "/drive/v3/files/nope", token=t)
    assert status == 404 and body["error"]["errors"][0]["reason"] == "notFound"


def test_docs_export_and_not_downloadable(emu):
    t = emu.token()
    doc = emu.ctl("file", name="Notes", mimeType="application/vnd.google-apps.document", content="hello doc")
    assert "size" not in doc and "md5Checksum" not in doc
    status, h, body = emu.request("GET", f"/drive/v3/files/{doc['id']}/export?mimeType=text/plain", token=t)
    assert status == 200 and body == b"hello doc"
    status, body, _ = emu.json("GET", f"/drive/v3/files/{doc['id']}?alt=media", token=t)
    assert status == 403 and body["error"]["errors"][0]["reason"] == "fileNotDownloadable"
    status, body, _ = emu.json("GET", f"/drive/v3/files/{doc['id']}/export?mimeType=image/png", token=t)
    assert status == 400


def test_update_move_trash_delete_and_changes(emu):
    t = emu.token()
    status, start, _ = emu.json("GET", "/drive/v3/changes/startPageToken", token=t)
    assert start["kind"] == "drive#startPageToken"
    a = create(emu, t, "a", mime="application/vnd.google-apps.folder")
    b = create(emu, t, "b", mime="application/vnd.google-apps.folder")
    f = create(emu, t, "x.txt", parents=[a["id"]], data=b"1")
    status, body, _ = emu.json("PATCH", f"/drive/v3/files/{f['id']}?addParents={b['id']}&removeParents={a['id']}"
                               "&fields=id,name,parents,modifiedTime", token=t,
                               body={"name": "y.txt", "modifiedTime": "2026-01-02T03:04:05.000Z"})
    assert status == 200 and body["parents"] == [b["id"]] and body["name"] == "y.txt"
    assert body["modifiedTime"] == "2026-01-02T03:04:05.000Z"
    status, body, _ = emu.json("PATCH", f"/drive/v3/files/{f['id']}", token=t, body={"parents": [a["id"]]})
    assert status == 403 and body["error"]["errors"][0]["reason"] == "parentsNotWritable"
    status, body, _ = emu.json("PATCH", f"/drive/v3/files/{f['id']}?fields=trashed", token=t, body={"trashed": True})
    assert body == {"trashed": True}
    status, _, body = emu.request("DELETE", f"/drive/v3/files/{a['id']}", token=t)
    assert status == 204 and body == b""
    status, ch, _ = emu.json("GET", f"/drive/v3/changes?pageToken={start['startPageToken']}&pageSize=3", token=t)
    assert status == 200 and len(ch["changes"]) == 3 and "nextPageToken" in ch
    status, ch2, _ = emu.json("GET", f"/drive/v3/changes?pageToken={ch['nextPageToken']}", token=t)
    assert "newStartPageToken" in ch2 and ch2["changes"][-1] == {
        "kind": "drive#change", "changeType": "file", "time": ch2["changes"][-1]["time"], "removed": True,
        "fileId": a["id"]}
    status, ch3, _ = emu.json("GET", f"/drive/v3/changes?pageToken={ch2['newStartPageToken']}", token=t)
    assert ch3["changes"] == []
    assert emu.json("GET", "/drive/v3/changes?pageToken=abc", token=t)[0] == 400


def test_bulk_seed(emu):
    assert emu.ctl("file", name="s", count=30)["created"] == 30
    status, body, _ = emu.json("GET", "/drive/v3/files?pageSize=1000", token=emu.token())
    assert len(body["files"]) == 30


def test_about_quota(emu):
    status, body, _ = emu.json("GET", "/drive/v3/about?fields=storageQuota", token=emu.token())
    assert status == 200 and set(body) == {"storageQuota"} and int(body["storageQuota"]["limit"]) > 0


# MARK: resumable uploads

def initiate(emu, t, name, total, file_id=None):
    path = "/upload/drive/v3/files" + (f"/{file_id}" if file_id else "") + "?uploadType=resumable&fields=id,name,size,md5Checksum"
    status, headers, body = emu.request("PATCH" if file_id else "POST", path, token=t, body={"name": name},
                                        headers={"X-Upload-Content-Length": str(total),
                                                 "X-Upload-Content-Type": "application/octet-stream"})
    assert status == 200 and body == b"", body
    return urllib.parse.urlsplit(headers["location"])


def put(emu, loc, data, first, total, conn=None):
    cr = f"bytes {first}-{first + len(data) - 1}/{total}" if data else f"bytes */{total}"
    return emu.request("PUT", loc.path + "?" + loc.query, body=data, headers={"Content-Range": cr}, conn=conn)


def test_resumable_whole_protocol(emu):
    t = emu.token()
    data = bytes((i * 7) % 251 for i in range(3 * CHUNK + 1000))
    loc = initiate(emu, t, "big.bin", len(data))
    status, h, _ = put(emu, loc, b"", 0, len(data))
    assert status == 308 and "range" not in h
    status, h, _ = put(emu, loc, data[:CHUNK], 0, len(data))
    assert status == 308 and h["range"] == f"bytes=0-{CHUNK - 1}"
    status, h, _ = put(emu, loc, data[CHUNK:CHUNK + 1000], CHUNK, len(data))
    assert status == 400  # not a 256 KiB multiple and not the last chunk
    status, h, _ = put(emu, loc, data[3 * CHUNK:], 3 * CHUNK, len(data))
    assert status == 400  # a gap
    status, h, _ = put(emu, loc, data[CHUNK:3 * CHUNK], CHUNK, len(data))
    assert h["range"] == f"bytes=0-{3 * CHUNK - 1}"
    status, h, _ = put(emu, loc, b"", 0, len(data))
    assert status == 308 and h["range"] == f"bytes=0-{3 * CHUNK - 1}"
    status, h, body = put(emu, loc, data[3 * CHUNK:], 3 * CHUNK, len(data))
    f = json.loads(body)
    assert status == 200 and f["md5Checksum"] == hashlib.md5(data).hexdigest() and f["size"] == str(len(data))
    st = emu.state()
    assert st["resent_bytes"] == 0 and st["upload_bytes"] == len(data) + 2000  # the two refused chunks were received
    # The finished session answers the file again.
    status, h, body = put(emu, loc, b"", 0, len(data))
    assert status == 200 and json.loads(body)["id"] == f["id"]


def test_resumable_update_and_expired_session(emu):
    t = emu.token()
    f = create(emu, t, "u.bin", data=b"old")
    loc = initiate(emu, t, "u.bin", 5, file_id=f["id"])
    status, h, body = put(emu, loc, b"hello", 0, 5)
    assert status == 200 and json.loads(body)["id"] == f["id"]
    assert emu.request("GET", f"/drive/v3/files/{f['id']}?alt=media", token=t)[2] == b"hello"
    loc = initiate(emu, t, "v.bin", 5)
    emu.ctl("expire_session", upload_id="*")
    status, body, _ = emu.json("PUT", loc.path + "?" + loc.query, body=b"hello", headers={"Content-Range": "bytes 0-4/5"})
    assert status == 404 and body["error"]["errors"][0]["reason"] == "notFound"


@pytest.mark.parametrize("cr", ["bytes 5-1/10", "bytes 0-4", "octets 0-4/5", "bytes -1-4/5", "bytes 0-4/abc", ""])
def test_resumable_rejects_bad_content_range(emu, cr):
    loc = initiate(emu, emu.token(), "x", 5)
    status, body, _ = emu.json("PUT", loc.path + "?" + loc.query, body=b"hello", headers={"Content-Range": cr})
    assert status == 400


def test_cut_mid_chunk_commits_whole_chunks_and_counts_resent(emu):
    t = emu.token()
    data = bytes(4 * CHUNK)
    loc = initiate(emu, t, "cut.bin", len(data))
    emu.ctl("fault", method="PUT", path="/upload/", action="cut", after=CHUNK + 100)
    with pytest.raises((http.client.HTTPException, ConnectionError, socket.timeout, OSError)):
        put(emu, loc, data[:2 * CHUNK], 0, len(data))
    status, h, _ = put(emu, loc, b"", 0, len(data))
    assert status == 308 and h["range"] == f"bytes=0-{CHUNK - 1}"
    # A client that ignores the Range header re-sends a finished chunk: counted.
    status, h, _ = put(emu, loc, data[:2 * CHUNK], 0, len(data))
    assert emu.state()["resent_bytes"] == CHUNK
    status, h, body = put(emu, loc, data[2 * CHUNK:], 2 * CHUNK, len(data))
    assert status == 200


def test_drop_makes_an_ambiguous_create(emu):
    t = emu.token()
    emu.ctl("fault", method="POST", path="/drive/v3/files", action="drop")
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        emu.request("POST", "/drive/v3/files", token=t, body={"name": "once", "appProperties": {"vigieId": "k"}})
    names = [f["name"] for f in emu.state()["files"]]
    assert names == ["once"]


def test_rate_limit_and_server_errors(emu):
    t = emu.token()
    emu.ctl("fault", path="/drive/v3/files", status=429)
    emu.ctl("fault", path="/drive/v3/files", status=403, reason="userRateLimitExceeded")
    emu.ctl("fault", path="/drive/v3/files", status=403, reason="dailyLimitExceeded")
    emu.ctl("fault", path="/drive/v3/files", status=503)
    seen = []
    for _ in range(5):
        status, body, _ = emu.json("GET", "/drive/v3/files", token=t)
        seen.append((status, body["error"]["errors"][0]["reason"] if status != 200 else None))
    assert seen == [(429, "rateLimitExceeded"), (403, "userRateLimitExceeded"), (403, "dailyLimitExceeded"),
                    (503, "backendError"), (200, None)]


def test_latency_and_offline(emu):
    t = emu.token()
    emu.ctl("fault", path="/drive/v3/about", action="delay", seconds=0.5)
    t0 = time.monotonic()
    emu.json("GET", "/drive/v3/about?fields=user", token=t)
    assert time.monotonic() - t0 >= 0.5
    emu.ctl("offline", offline=True)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        emu.request("GET", "/drive/v3/files", token=t)
    emu.ctl("offline", offline=False)
    assert emu.json("GET", "/drive/v3/files", token=t)[0] == 200


def test_response_cut_mid_body_on_download(emu):
    t = emu.token()
    f = create(emu, t, "d.bin", data=bytes(100000))
    emu.ctl("fault", path="/drive/v3/files/", action="cut", where="response", after=5000)
    with pytest.raises((http.client.IncompleteRead, http.client.HTTPException, ConnectionError, OSError)):
        emu.request("GET", f"/drive/v3/files/{f['id']}?alt=media", token=t)


def test_keep_alive_connection_survives_errors(emu):
    t = emu.token()
    c = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
    for _ in range(3):
        assert emu.request("GET", "/drive/v3/files/nope", token=t, conn=c)[0] == 404
        assert emu.request("POST", "/drive/v3/files", token=t, body={"name": "k"}, conn=c)[0] == 200
    c.close()


def test_hostile_bodies(emu):
    t = emu.token()
    status, body, _ = emu.json("POST", "/drive/v3/files", token=t, body=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert status == 400 and body["error"]["errors"][0]["reason"] == "parseError"
    status, body, _ = emu.json("POST", "/upload/drive/v3/files?uploadType=multipart", token=t, body=b"x",
                               headers={"Content-Type": "multipart/related"})
    assert status == 400
    status, body, _ = emu.json("POST", "/upload/drive/v3/files?uploadType=bogus", token=t, body=b"")
    assert status == 400
    status, body, _ = emu.json("GET", "/drive/v3/files?fields=files(id", token=t)
    assert status == 400
