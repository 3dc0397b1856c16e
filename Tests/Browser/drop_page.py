#!/usr/bin/env python3
"""Drives headless Chromium through the DevTools protocol against a running
file drop: opens the page, uploads a file through the page's file input (the
page PUTs it with progress), waits until the listing shows it, and saves a
screenshot. Usage: drop_page.py BASE_URL FILE SCREENSHOT.PNG

Prints "uploaded NAME" on success; exits non-zero with a reason otherwise."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import websocket  # websocket-client


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no chromium found")


class DevTools:
    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=60)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")


def main():
    base, upload, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]
    profile = tempfile.mkdtemp(prefix="vigie-chromium-")
    args = [
        find_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
        "--window-size=420,860", "about:blank",
    ]
    browser = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        endpoint = None
        while time.time() < deadline and endpoint is None:
            line = browser.stderr.readline()
            if not line and browser.poll() is not None:
                sys.exit("chromium exited early")
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                endpoint = match.group(1)
        if endpoint is None:
            sys.exit("chromium did not start DevTools")
        port = re.search(r":(\d+)/", endpoint).group(1)
        # Attach to the page target.
        import urllib.request
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        tools.call("DOM.enable")
        tools.call("Runtime.enable")
        tools.call("Page.navigate", url=base + "/")
        deadline = time.time() + 30
        while time.time() < deadline and tools.evaluate("document.readyState") != "complete":
            time.sleep(0.1)
        if not tools.evaluate("!!document.getElementById('files') && typeof XMLHttpRequest === 'function'"):
            sys.exit("the page has no file input")
        document = tools.call("DOM.getDocument")
        node = tools.call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#files")
        tools.call("DOM.setFileInputFiles", files=[os.path.abspath(upload)], nodeId=node["nodeId"])
        name = os.path.basename(upload)
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = tools.evaluate(
                "Array.from(document.querySelectorAll('#listing a')).map(a => a.textContent).join('\\n')")
            if listed and name in listed.split("\n"):
                break
            time.sleep(0.2)
        else:
            progress = tools.evaluate("document.getElementById('progress') && document.getElementById('progress').innerText")
            sys.exit(f"the upload did not show in the listing; progress: {progress!r}")
        shot = tools.call("Page.captureScreenshot", format="png")
        with open(screenshot, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        print("uploaded", name)
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
