#!/usr/bin/env python3
"""A person on IRC, for Vigie's tests: a raw-socket client.

Connects to HOST:PORT (plain, or TLS without verification with --tls),
registers as NICK, joins the channels, answers PING, and writes every line it
receives to LOG as JSON ({"t": unix time, "line": text}), one per line,
flushed at once. Each line read on standard input is sent to the server as
is (CR LF added); `@sleep SECONDS` pauses. It exits when the server closes
the connection (logging {"t": ..., "event": "closed"}) or stdin ends.
"""
import argparse
import json
import socket
import ssl
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nick", required=True)
    parser.add_argument("--user", default=None)
    parser.add_argument("--join", action="append", default=[])
    parser.add_argument("--log", required=True)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()

    sock = socket.create_connection((args.host, args.port), timeout=30)
    if args.tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock, server_hostname=args.host)
    sock.settimeout(None)
    log = open(args.log, "a", encoding="utf-8")
    lock = threading.Lock()

    def record(entry):
        entry["t"] = time.time()
        with lock:
            log.write(json.dumps(entry) + "\n")
            log.flush()

    def send(line):
        data = line.encode("utf-8", "surrogateescape") + b"\r\n"
        with lock:
            sock.sendall(data)

    send(f"NICK {args.nick}")
    send(f"USER {args.user or args.nick} 0 * :test peer")

    def reader():
        buffer = b""
        joined = False
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                record({"event": "closed"})
                log.flush()
                import os
                os._exit(0)
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.rstrip(b"\r").decode("utf-8", "replace")
                record({"line": line})
                parts = line.split(" ")
                if parts and parts[0] == "PING":
                    send("PONG " + " ".join(parts[1:]))
                if len(parts) > 1 and parts[1] == "001" and not joined:
                    joined = True
                    for channel in args.join:
                        send(f"JOIN {channel}")
                    record({"event": "registered"})

    threading.Thread(target=reader, daemon=True).start()
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line.startswith("@sleep "):
            time.sleep(float(line.split(" ", 1)[1]))
            continue
        if line:
            send(line)
    time.sleep(0.5)


if __name__ == "__main__":
    main()
