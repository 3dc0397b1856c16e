#!/usr/bin/env python3
"""A small scripted IRC server for what ngircd cannot do in Vigie's tests:
IRCv3 CAP negotiation with sasl, server-time and account-tag, SASL PLAIN,
messages carrying an `account` tag, and hostile lines.

It listens on 127.0.0.1:PORT (0: any free port, printed on stdout as
`PORT n`), serves one client at a time, and writes what the client sends to
LOG as JSON lines ({"t": time, "line": text}) plus events ("sasl-ok",
"sasl-fail", "registered"). Commands on standard input:

  say ACCOUNT NICK TARGET TEXT   a PRIVMSG from NICK (account tag ACCOUNT, or - for none)
  raw TEXT                       TEXT sent as a line (CR LF added)
  hex HEX                        bytes sent as they are
  hostile                        a battery of malformed lines
  kick CHANNEL                   the client is kicked from CHANNEL
  account NICK ACCOUNT           WHOIS NICK answers that NICK is logged in as ACCOUNT
  mute [off]                     stop (or resume) answering PING
  drop                           the connection is closed
"""
import argparse
import base64
import json
import socket
import sys
import threading
import time

state = {"conn": None, "nick": "*", "lock": threading.Lock(), "mute": False, "accounts": {}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    parser.add_argument("--account", default="vigie")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--caps", default="sasl server-time account-tag multi-prefix")
    parser.add_argument("--tls-cert", default=None, help="serve TLS with this PEM certificate...")
    parser.add_argument("--tls-key", default=None, help="...and key")
    parser.add_argument("--client-ca", default=None, help="ask for a client certificate signed by this (SASL EXTERNAL)")
    args = parser.parse_args()
    log = open(args.log, "a", encoding="utf-8")

    def record(entry):
        entry["t"] = time.time()
        with state["lock"]:
            log.write(json.dumps(entry) + "\n")
            log.flush()

    def send_bytes(data):
        conn = state["conn"]
        if conn is None:
            return
        try:
            conn.sendall(data)
        except OSError:
            pass

    def send(line):
        send_bytes(line.encode("utf-8") + b"\r\n")

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(4)
    print(f"PORT {listener.getsockname()[1]}", flush=True)

    tls_context = None
    if args.tls_cert:
        import ssl
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            tls_context.verify_mode = ssl.CERT_OPTIONAL
            tls_context.load_verify_locations(cafile=args.client_ca)

    def serve(conn):
        if tls_context is not None:
            try:
                conn = tls_context.wrap_socket(conn, server_side=True)
            except Exception as error:
                record({"event": "tls-fail", "error": str(error)})
                conn.close()
                return
        state["conn"] = conn
        record({"event": "accepted"})

        def send(line):
            # Replies go to this connection, whatever state["conn"] says.
            try:
                conn.sendall(line.encode("utf-8") + b"\r\n")
            except OSError:
                pass
        buffer = b""
        cap_open = False
        registered = False
        nick = None
        user_seen = False
        sasl = None
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                record({"event": "closed"})
                state["conn"] = None
                return
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.rstrip(b"\r").decode("utf-8", "replace")
                record({"line": line})
                words = line.split(" ")
                command = words[0].upper()
                if command == "CAP" and len(words) > 1:
                    sub = words[1].upper()
                    if sub == "LS":
                        cap_open = True
                        send(f":irc.test CAP * LS :{args.caps}")
                    elif sub == "REQ":
                        wanted = line.split(":", 1)[1] if ":" in line else words[2]
                        send(f":irc.test CAP * ACK :{wanted}")
                    elif sub == "END":
                        cap_open = False
                elif command == "AUTHENTICATE":
                    if words[1] == "EXTERNAL":
                        send("AUTHENTICATE +")
                        sasl = "external"
                    elif sasl == "external":
                        certificate = conn.getpeercert(binary_form=True) if tls_context else None
                        if certificate and words[1] == "+":
                            send(f":irc.test 900 * * {args.account} :You are now logged in as {args.account}")
                            send(":irc.test 903 * :SASL authentication successful")
                            record({"event": "sasl-external-ok"})
                        else:
                            send(":irc.test 904 * :SASL authentication failed")
                            record({"event": "sasl-fail"})
                        sasl = None
                    elif words[1] == "PLAIN":
                        send("AUTHENTICATE +")
                        sasl = "wait"
                    elif sasl == "wait":
                        try:
                            authz, authc, password = base64.b64decode(words[1]).split(b"\0")
                        except Exception:
                            authz, authc, password = b"", b"", b""
                        if authc.decode() == args.account and password.decode() == args.password:
                            send(f":irc.test 900 * * {args.account} :You are now logged in as {args.account}")
                            send(":irc.test 903 * :SASL authentication successful")
                            record({"event": "sasl-ok"})
                        else:
                            send(":irc.test 904 * :SASL authentication failed")
                            record({"event": "sasl-fail"})
                        sasl = None
                elif command == "NICK":
                    nick = words[1].lstrip(":")
                    state["nick"] = nick
                elif command == "USER":
                    user_seen = True
                elif command == "PING" and not state["mute"]:
                    send(f":irc.test PONG irc.test :{words[-1].lstrip(':')}")
                elif command == "JOIN":
                    for channel in words[1].split(","):
                        send(f":{nick}!vigie@bot.test JOIN {channel}")
                elif command == "WHOIS" and len(words) > 1:
                    who = words[-1]
                    send(f":irc.test 311 {nick} {who} {who} people.test * :someone")
                    if who in state["accounts"]:
                        send(f":irc.test 330 {nick} {who} {state['accounts'][who]} :is logged in as")
                    send(f":irc.test 318 {nick} {who} :End of WHOIS list")
                elif command == "QUIT":
                    conn.close()
                    state["conn"] = None
                    return
                if not registered and nick and user_seen and not cap_open:
                    registered = True
                    send(f":irc.test 001 {nick} :Welcome")
                    send(f":irc.test 376 {nick} :End of MOTD")
                    record({"event": "registered"})

    def acceptor():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=acceptor, daemon=True).start()

    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        verb, _, rest = line.partition(" ")
        if verb == "say":
            account, who, target, text = rest.split(" ", 3)
            tags = f"@account={account};time=2026-11-25T10:00:00.000Z " if account != "-" else ""
            send(f"{tags}:{who}!{who}@people.test PRIVMSG {target} :{text}")
        elif verb == "raw":
            send(rest)
        elif verb == "hex":
            send_bytes(bytes.fromhex(rest))
        elif verb == "hostile":
            send_bytes(b"PRIVMSG #ops :" + b"A" * 20000 + b"\r\n")
            send_bytes(b":evil!e@h PRIVMSG #ops :nul\x00inside\r\n")
            send_bytes(bytes(range(1, 256)) + b"\r\n")
            send_bytes(b"\r\n\r\n\n")
            send_bytes(b"@" + b"t=" * 5000 + b" PING x\r\n")
            send_bytes(b":x 99999 too long numeric\r\n")
            send_bytes(b"CMD " + b" ".join(b"p" for _ in range(40)) + b"\r\n")
            send_bytes(b"\xff\xfe\xfd garbage \xc3\x28\r\n")
            send_bytes(b"@=x CMD\r\n")
            send_bytes(b":\r\n")
            record({"event": "hostile-sent"})
        elif verb == "kick":
            send(f":op!op@people.test KICK {rest} {state['nick']} :out")
        elif verb == "account":
            who, account = rest.split(" ", 1)
            state["accounts"][who] = account
        elif verb == "mute":
            state["mute"] = rest.strip() != "off"
        elif verb == "drop":
            conn = state["conn"]
            if conn:
                conn.close()
                state["conn"] = None


if __name__ == "__main__":
    main()
