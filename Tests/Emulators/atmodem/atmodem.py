#!/usr/bin/env python3
"""atmodem: an AT-command modem emulator (Huawei E1750/E173 class 3G key).

The test peer for libgammu's AT driver: the real `gammu` CLI and libgammu
work against it unmodified. Standard library only.

Transports
  stdio (default)   AT on stdin/stdout: what libgammu's `connection = proxyat`
                    forks (`device = python3 .../atmodem.py --state FILE`).
  --pty LINK        a pseudo-terminal whose slave is symlinked at LINK, for
                    `connection = at` and `device = LINK`; it can vanish and
                    reappear (under another name) like a USB key.

State: a JSON file (--state), see modemstate.py. Control: a Unix socket
(--control) taking one JSON request per line, or `atmodem.py ctl` which
edits the state file directly when no emulator is running. See README.md.

Layout of this file
  ATEngine      byte stream in -> AT semantics -> bytes out (no I/O of its
                own: the host loop gives it a `Link` to write to, timers)
  Emulator      the select() loop: transport fds, control socket, timers,
                output queue (where the slow/garbage faults apply)
  main()        command line: serve (default), ctl, init
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import errno
import heapq
import json
import os
import random
import re
import selectors
import signal
import socket
import sys
import time
import traceback
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import modemstate as ms  # noqa: E402
import smspdu  # noqa: E402

CTRL_Z = 0x1A
ESC = 0x1B

# 27.007 9.2 (+CME ERROR) and 27.005 3.2.5 (+CMS ERROR) texts for CMEE=2.
CME_TEXT = {
    0: "phone failure", 3: "operation not allowed", 4: "operation not supported",
    10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required",
    13: "SIM failure", 14: "SIM busy", 16: "incorrect password",
    17: "SIM PIN2 required", 18: "SIM PUK2 required", 20: "memory full",
    21: "invalid index", 22: "not found", 23: "memory failure",
    24: "text string too long", 30: "no network service", 50: "Incorrect parameters",
    100: "unknown", 262: "SIM blocked",
}
CMS_TEXT = {
    300: "ME failure", 302: "operation not allowed", 303: "operation not supported",
    304: "invalid PDU mode parameter", 305: "invalid text mode parameter",
    310: "SIM not inserted", 311: "SIM PIN required", 312: "PH-SIM PIN required",
    313: "SIM failure", 316: "SIM PUK required", 320: "memory failure",
    321: "invalid memory index", 322: "memory full", 330: "SMSC address unknown",
    331: "no network service", 332: "network timeout", 500: "unknown error",
}

# Lock state -> (+CME code, +CMS code) reported by commands needing the SIM.
SIM_ERRORS = {"SIM PIN": (11, 311), "SIM PUK": (12, 316),
              "SIM BLOCKED": (262, 313), "NO SIM": (10, 310)}


class ATError(Exception):
    """Final result of a failed command. kind: 'error' (plain ERROR),
    'cme' or 'cms' (numbered, shown as ERROR when CMEE=0)."""

    def __init__(self, kind: str = "error", code: int = 0):
        super().__init__(f"{kind} {code}")
        self.kind, self.code = kind, code


def cme(code: int) -> ATError:
    return ATError("cme", code)


def cms(code: int) -> ATError:
    return ATError("cms", code)


class Prompt(Exception):
    """Raised by AT+CMGS/AT+CMGW: switch to PDU input after a '> ' prompt."""

    def __init__(self, pending: dict):
        super().__init__("prompt")
        self.pending = pending


def split_args(s: str) -> list:
    """Split a parameter list on commas outside quotes. Quoted values are
    returned unquoted (str); empty values as None; others stripped str."""
    out, cur, inq, was_quoted = [], [], False, False
    for ch in s:
        if ch == '"':
            inq = not inq
            was_quoted = True
            continue
        if ch == "," and not inq:
            v = "".join(cur)
            out.append(v if was_quoted else (v.strip() or None))
            cur, was_quoted = [], False
            continue
        cur.append(ch)
    if inq:
        raise ATError()  # unbalanced quote
    v = "".join(cur)
    out.append(v if was_quoted else (v.strip() or None))
    if out == [None]:
        return []
    return out


def as_int(v, lo=None, hi=None, default=None) -> int:
    if v is None:
        if default is None:
            raise ATError()
        return default
    try:
        n = int(str(v).strip(), 10)
    except ValueError:
        raise ATError() from None
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise ATError()
    return n


def split_commands(body: str) -> list[tuple[str, str]]:
    """Split what follows 'AT' into (name, rest) commands:
    basic ones ('E', '1'), '&' ones ('&F', '0'), S-registers ('S', '0=0'),
    extended ones ('+CMGS', '=23' / '?' / '=?' / ''), separated by ';'.
    'D' takes the rest of the line."""
    cmds = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c in " ;":
            i += 1
            continue
        if c in "+^$*%#!":
            j = i + 1
            while j < n and (body[j].isalnum() or body[j] in "_-"):
                j += 1
            name = body[i:j].upper()
            k, inq = j, False
            while k < n and (inq or body[k] != ";"):
                if body[k] == '"':
                    inq = not inq
                k += 1
            cmds.append((name, body[j:k]))
            i = k
            continue
        if c.upper() == "D":
            cmds.append(("D", body[i + 1:]))
            break
        if c == "&":
            if i + 1 >= n or not body[i + 1].isalpha():
                raise ATError()
            j = i + 2
            while j < n and body[j].isdigit():
                j += 1
            cmds.append(("&" + body[i + 1].upper(), body[i + 2:j]))
            i = j
            continue
        if c.upper() == "S" and i + 1 < n and body[i + 1].isdigit():
            j = i + 1
            while j < n and body[j].isdigit():
                j += 1
            if j < n and body[j] == "?":
                j += 1
            elif j < n and body[j] == "=":
                j += 1
                while j < n and body[j].isdigit():
                    j += 1
            cmds.append(("S", body[i + 1:j]))
            i = j
            continue
        if c.isalpha():
            j = i + 1
            while j < n and body[j].isdigit():
                j += 1
            cmds.append((c.upper(), body[i + 1:j]))
            i = j
            continue
        raise ATError()
    return cmds


def ucs2_hex(s: str) -> str:
    return s.encode("utf-16-be").hex().upper()


# Command handlers, registered by name. Each gets (engine, state, form, args)
# where form is 'exec' (AT+X), 'read' (AT+X?), 'test' (AT+X=?) or 'set'
# (AT+X=...), args the raw text after '='. Returns a list of info lines.
HANDLERS: dict = {}


def handler(*names):
    def deco(fn):
        for nm in names:
            HANDLERS[nm] = fn
        return fn
    return deco


def _fault_matches(f: dict, body: str) -> bool:
    """A fault with "match" (a regex searched in the command after AT, case
    insensitive) only applies to matching commands."""
    m = f.get("match")
    return not m or re.search(m, body, re.I) is not None


class ATEngine:
    """AT command interpreter for one link (a 'cable' to the modem state).

    `link` must provide: write(bytes, kind) where kind is 'echo', 'resp' or
    'urc'; schedule(seconds, fn); reenumerate(ms) (the USB key drops off the
    bus and comes back); log(direction, text)."""

    def __init__(self, store: ms.Store, link, rng: random.Random):
        self.store = store
        self.link = link
        self.rng = rng
        self.buf = bytearray()
        self.overflow = False
        self.pending = None          # AT+CMGS/CMGW waiting for the PDU
        self.pdu = bytearray()
        self.last_body = None        # for A/
        self.silent_until = 0.0      # booting after a reset: no answers
        self.last_seq = self.store.read()["counters"]["notify_seq"]
        self.last_rssi = None
        self.reset_timer_armed = False

    # ------------------------------------------------------------ input --

    def feed(self, data: bytes) -> None:
        st = self.store.read()
        faults, self._echo_on = st["faults"], st["modem"]["echo"]
        self._max_line = st["config"]["max_line"]
        for b in data:
            if self.pending is not None:
                self._pdu_byte(b, faults)
            else:
                self._cmd_byte(b, faults)
                if b == 0x0D:  # a command ran: settings/faults may differ
                    st = self.store.read()
                    faults, self._echo_on = st["faults"], st["modem"]["echo"]

    def idle(self) -> bool:
        return not self.buf and self.pending is None

    _echo_on = True
    _max_line = 1024

    def _echo(self, b: bytes, faults: dict) -> None:
        # A plain hang is total silence; a hang limited to some commands
        # ("match") still echoes what is typed (the UART works, the command
        # processor does not answer).
        hung = "hang" in faults and not faults["hang"].get("match")
        if self._echo_on and not hung and time.time() >= self.silent_until:
            self.link.write(b, "echo")

    def _cmd_byte(self, b: int, faults: dict) -> None:
        if b == 0x0A and not self.buf:
            return  # LF after CR: ignored, like real modems
        if b == 0x0D:
            self._echo(b"\r", faults)
            line = bytes(self.buf)
            overflow = self.overflow
            self.buf.clear()
            self.overflow = False
            self._line(line, overflow, faults)
            return
        if b in (0x08, 0x7F):  # backspace (S5)
            if self.buf:
                self.buf.pop()
            self._echo(bytes([b]), faults)
            return
        self._echo(bytes([b]), faults)
        if self.overflow:
            return
        self.buf.append(b)
        if len(self.buf) > self._max_line:
            self.overflow = True
            self.buf.clear()

    def _line(self, raw: bytes, overflow: bool, faults: dict) -> None:
        text = raw.decode("latin-1")
        if overflow:
            self.link.log("<", "(overlong line discarded)")
            if self._swallowed(text, faults):
                return
            self._respond([], ATError())
            return
        # A real modem hunts for the "AT" prefix and ignores what precedes
        # it (line noise, the ESC gammu sends first). A/ repeats.
        stripped = text.strip()
        if stripped.upper() == "A/":
            if self.last_body is None:
                return
            body = self.last_body
        else:
            m = re.search(r"[Aa][Tt]", text)
            if m is None:
                if stripped:
                    self.link.log("<", f"(ignored, no AT prefix) {stripped!r}")
                return
            body = text[m.end():]
        self.link.log(">", "AT" + body)
        if self._swallowed(body, faults):
            return
        self.last_body = body
        self._execute(body)

    def _swallowed(self, body: str, faults: dict) -> bool:
        """Faults that eat a command: boot time, hang, reset_on_timeout."""
        if time.time() < self.silent_until:
            self.link.log("<", "(booting, no answer)")
            return True
        if "hang" in faults and _fault_matches(faults["hang"], body):
            f = faults["hang"]
            if f.get("clear_on") == "reset" and re.fullmatch(
                    r"\s*\+CFUN=1,1\s*", body, re.I):
                return False  # the reset gets through and cures the hang
            self.link.log("<", "(hang fault: no answer)")
            if f.get("count"):
                with self.store.edit() as st:
                    h = st["faults"].get("hang")
                    if h:
                        h["count"] -= 1
                        if h["count"] <= 0:
                            del st["faults"]["hang"]
            return True
        if "vanish_on" in faults and _fault_matches(faults["vanish_on"], body):
            # The key drops off the bus as this command arrives (unplugged
            # mid-send, say): like a vanish fault set at this moment.
            with self.store.edit() as st:
                f = st["faults"].pop("vanish_on", None) or {}
                ms_ = f.get("ms", 3000)
                ms.op_fault(st, {"kind": "vanish", "ms": ms_})
            self.link.log("<", "(vanish_on fault: the device is gone)")
            if self.link.link_path:
                self.link.schedule(0.05, lambda: self.link._vanish_now(ms_, None))
            else:
                self.link.schedule(0.05, self.link._exit_vanished)
            return True
        if "reset_on_timeout" in faults and _fault_matches(faults["reset_on_timeout"], body):
            f = faults["reset_on_timeout"]
            self.link.log("<", "(reset_on_timeout fault: no answer)")
            if not self.reset_timer_armed:
                self.reset_timer_armed = True
                self.link.schedule(f.get("ms", 3000) / 1000.0, self._self_reset)
            return True
        return False

    def _self_reset(self) -> None:
        """reset_on_timeout: the key resets by itself after ignoring us."""
        self.reset_timer_armed = False
        with self.store.edit() as st:
            f = st["faults"].pop("reset_on_timeout", None) or {}
            ms.power_cycle(st, "self reset after timeout")
            reen = f.get("reenumerate", st["config"]["reenumerate_on_reset"])
            boot = st["config"]["boot_ms"]
            reen_ms = f.get("reenumerate_ms", st["config"]["reenumerate_ms"])
        self._after_reset(reen, reen_ms, boot)

    def _after_reset(self, reenumerate: bool, reen_ms: int, boot_ms: int) -> None:
        self.buf.clear()
        self.pending = None
        if boot_ms:
            self.silent_until = time.time() + boot_ms / 1000.0
        if reenumerate:
            self.link.reenumerate(reen_ms)

    def _pdu_byte(self, b: int, faults: dict) -> None:
        if b == ESC:
            self.pending = None
            self.pdu.clear()
            self._respond([], None)
            return
        if b == CTRL_Z:
            self._echo(bytes([b]), faults)
            pending, data = self.pending, bytes(self.pdu)
            self.pending = None
            self.pdu.clear()
            self._finish_pdu(pending, data.decode("latin-1"))
            return
        if b in (0x0D, 0x0A):
            return
        self._echo(bytes([b]), faults)
        if len(self.pdu) < 1024:
            self.pdu.append(b)
        else:
            self.pending["overflow"] = True

    # ---------------------------------------------------------- output --

    def _respond(self, lines: list[str], err: ATError | None,
                 st: dict | None = None) -> None:
        st = st or self.store.read()
        modem = st["modem"]
        verbose = modem["verbose"]
        out = []
        if lines:
            body = "\r\n".join(lines)
            out.append(f"\r\n{body}\r\n" if verbose else f"{body}\r\n")
        if not modem["quiet"]:
            if err is None:
                out.append("\r\nOK\r\n" if verbose else "0\r")
            else:
                out.append(self._error_text(err, modem["cmee"], verbose))
        data = "".join(out)
        self.link.log("<", data.strip().replace("\r\n", " | "))
        self.link.write(data.encode("utf-8", "replace"), "resp")

    @staticmethod
    def _error_text(err: ATError, cmee: int, verbose: bool) -> str:
        if err.kind == "not_support":
            return "\r\nCOMMAND NOT SUPPORT\r\n"
        if err.kind in ("cme", "cms") and cmee:
            table = CME_TEXT if err.kind == "cme" else CMS_TEXT
            prefix = "+CME ERROR: " if err.kind == "cme" else "+CMS ERROR: "
            val = table.get(err.code, str(err.code)) if cmee == 2 else str(err.code)
            return f"\r\n{prefix}{val}\r\n"
        return "\r\nERROR\r\n" if verbose else "4\r"

    def urc(self, text: str) -> None:
        """Unsolicited result code."""
        self.link.log("<", f"(urc) {text!r}")
        self.link.write(f"\r\n{text}\r\n".encode("utf-8"), "urc")

    # ------------------------------------------------------- execution --

    def _execute(self, body: str) -> None:
        try:
            cmds = split_commands(body)
        except ATError as e:
            self._unknown("AT" + body)
            self._respond([], e)
            return
        lines: list[str] = []
        after = []
        prompt = None
        err = None
        # The state is saved before the answer goes out: whoever sees the
        # answer (a test, the daemon) also sees its effect in the file.
        with self.store.edit() as st:
            try:
                for name, rest in cmds:
                    lines += self._one(st, name, rest, after)
            except Prompt as p:
                prompt = p
            except ATError as e:
                err = e
            except Exception:  # a bug here must never kill the modem
                traceback.print_exc(file=sys.stderr)
                err = ATError()
        if prompt is not None:
            self.pending = prompt.pending
            self.pdu.clear()
            self.link.log("<", "> (prompt)")
            self.link.write(b"\r\n> ", "resp")
            return
        self._respond(lines, err, st)
        for fn in after:
            fn()

    def _unknown(self, cmd: str) -> None:
        key = cmd.strip()[:60].upper()
        with self.store.edit() as st:
            seen = st["unsupported"]
            if key not in seen and len(seen) >= 200:  # line noise: keep it bounded
                key = "(others)"
            seen[key] = seen.get(key, 0) + 1
        self.link.log("!", f"unsupported: {cmd!r}")

    def _one(self, st: dict, name: str, rest: str, after: list) -> list[str]:
        self._cur_name = name
        if name in ("+", "^") or (name[0] in "+^$*%#!" and len(name) == 1):
            raise ATError()
        if name[0] in "+^$*%#!":
            if rest == "?":
                form, args = "read", ""
            elif rest == "=?":
                form, args = "test", ""
            elif rest.startswith("="):
                form, args = "set", rest[1:]
            elif rest.strip() == "":
                form, args = "exec", ""
            else:
                form, args = "exec", rest
        else:
            form, args = "basic", rest
        fn = HANDLERS.get(name)
        if fn is None:
            self._unknown(f"AT{name}{rest}")
            kind = st["config"]["unknown_reply"]
            if kind == "cme":
                raise cme(100)
            if kind == "not_support":
                raise ATError("not_support")
            raise ATError()
        self._after = after
        return fn(self, st, form, args) or []

    # --------------------------------------------- helpers for handlers --

    def need_sim(self, st: dict, sms: bool = False) -> None:
        lock = st["sim"]["lock"]
        if lock != "READY":
            c_me, c_ms = SIM_ERRORS.get(lock, (13, 313))
            raise cms(c_ms) if sms else cme(c_me)

    def reg_state(self, st: dict) -> str:
        if st["modem"]["cfun"] != 1 or st["sim"]["lock"] != "READY":
            return "not_registered"
        return st["network"]["registration"]

    def enc_str(self, st: dict, s: str) -> str:
        """A string parameter in the current TE character set (+CSCS)."""
        if st["modem"]["cscs"] == "UCS2":
            return ucs2_hex(s)
        return s

    def dec_str(self, st: dict, s: str | None) -> str | None:
        if s and st["modem"]["cscs"] == "UCS2" and re.fullmatch(r"([0-9A-Fa-f]{4})+", s):
            return bytes.fromhex(s).decode("utf-16-be", "replace")
        return s

    def index_range(self, st: dict, mem: str) -> range:
        base = st["config"]["index_base"]
        return range(base, base + st["storage"][mem]["capacity"])

    # -------------------------------------------------- PDU completion --

    def _finish_pdu(self, pending: dict, hexstr: str) -> None:
        after: list = []
        lines, err = [], None
        with self.store.edit() as st:
            try:
                if pending.get("overflow"):
                    raise cms(304)
                try:
                    pdu = smspdu.parse_hex(hexstr)
                    smsc, off = smspdu.decode_smsc(pdu)
                except smspdu.PDUError:
                    raise cms(304) from None
                if len(pdu) - off != pending["length"]:
                    raise cms(304)
                try:
                    dec = smspdu.decode_pdu(pdu)
                except smspdu.PDUError:
                    raise cms(304) from None
                if pending["cmd"] == "CMGS":
                    if dec["type"] != "SUBMIT":
                        raise cms(304)
                    mr = self.send_submit(st, pdu, dec, after)
                    lines = [f"+CMGS: {mr}"]
                else:  # CMGW
                    mem = st["modem"]["cpms"][1]
                    status = ms.STATUS_NAMES[pending["stat"]]
                    idx = ms.store_pdu(st, mem, pdu.hex().upper(), status)
                    if idx is None:
                        raise cms(322)
                    lines = [f"+CMGW: {idx}"]
            except ATError as e:
                err = e
        self._respond(lines, err, st)
        for fn in after:
            fn()

    def send_submit(self, st: dict, pdu: bytes, dec: dict, after: list) -> int:
        """Network side of sending one SMS-SUBMIT: checks, MR, sent log,
        status report. Raises the +CMS ERROR a real key would give."""
        self.need_sim(st, sms=True)
        faults = st["faults"]
        reason = None
        if self.reg_state(st) not in ("home", "roaming"):
            reason = 331
        elif st["network"]["rssi"] == 99 or st["network"]["rssi"] < st["config"]["min_send_rssi"]:
            reason = 500  # the article's "error 500 ... unknown error"
        elif not dec["smsc"] and not st.get("smsc"):
            reason = 330
        elif "send_error" in faults:
            f = faults["send_error"]
            reason = int(f.get("code", 500))
            if f.get("count"):
                f["count"] -= 1
                if f["count"] <= 0:
                    del faults["send_error"]
        if reason is not None:
            st["send_failures"].append({"time": ms.now_iso(), "error": reason,
                                        "number": dec.get("number"),
                                        "text": dec.get("text")})
            del st["send_failures"][:-200]
            raise cms(reason)
        mr = st["counters"]["mr_next"]
        st["counters"]["mr_next"] = (mr + 1) % 256
        entry = {
            "id": len(st["sent"]) + 1 if not st["sent"] else st["sent"][-1]["id"] + 1,
            "time": ms.now_iso(), "mr": mr,
            "number": dec["number"], "toa": dec["toa"],
            "smsc": dec["smsc"] or st.get("smsc"),
            "text": dec["text"], "encoding": dec["encoding"], "dcs": dec["dcs"],
            "udh": dec["udh_hex"], "concat": dec["concat"],
            "data_hex": dec["data_hex"],
            "status_report_requested": dec["status_report"],
            "validity": dec["vp"], "pdu": pdu.hex().upper(),
        }
        st["sent"].append(entry)
        if dec["status_report"] and st["config"]["delivery_reports"]:
            now = dt.datetime.now().astimezone().replace(microsecond=0)
            rep = smspdu.encode_status_report(
                mr, dec["number"], now, now + dt.timedelta(seconds=1), 0,
                smsc=st.get("smsc")).hex().upper()
            ds = st["modem"]["cnmi"][3]
            if ds == 1:
                ms.queue_notification(st, "cds", pdu=rep)
            else:
                idx = ms.store_pdu(st, "SR", rep, "REC UNREAD")
                if idx is not None and ds == 2:
                    ms.queue_notification(st, "report", storage="SR", index=idx)
        return mr

    # -------------------------------------------------- notifications --

    def poll_notifications(self) -> None:
        """Emit +CMTI/+CMT/+CDS/+CDSI and Huawei ^RSSI for what happened
        since last time, when the link is idle."""
        if not self.idle() or time.time() < self.silent_until:
            return
        st = self.store.read()
        if "hang" in st["faults"]:
            return
        modem = st["modem"]
        if modem["curc"] and st["network"]["rssi"] != self.last_rssi:
            if self.last_rssi is not None:
                self.urc(f"^RSSI:{st['network']['rssi']}")
            self.last_rssi = st["network"]["rssi"]
        new = [n for n in st["notify_queue"] if n["seq"] > self.last_seq]
        if not new:
            return
        self.last_seq = new[-1]["seq"]
        mode, mt, _bm, ds, _bfr = modem["cnmi"]
        drop = "drop_cmti" in st["faults"]
        for n in new:
            if mode == 0 or drop:
                continue
            if n["kind"] == "sms" and mt in (2, 3):
                self._route_cmt(n, mt)
            elif n["kind"] == "sms" and mt == 1:
                self.urc(f'+CMTI: "{n["storage"]}",{n["index"]}')
            elif n["kind"] == "report" and ds == 2:
                self.urc(f'+CDSI: "{n["storage"]}",{n["index"]}')
            elif n["kind"] == "cds" and ds == 1:
                pdu = bytes.fromhex(n["pdu"])
                self.urc(f"+CDS: {len(pdu) - smspdu.tpdu_offset(pdu)}\r\n{n['pdu']}")

    def _route_cmt(self, n: dict, mt: int) -> None:
        """CNMI mt=2 (or 3 for class 3): the message goes straight to the
        TE as +CMT and is not kept in storage."""
        with self.store.edit() as st:
            msgs = st["storage"][n["storage"]]["messages"]
            m = msgs.get(str(n["index"]))
            if m is None:
                return
            pdu = bytes.fromhex(m["pdu"])
            if mt == 3:
                dcs = smspdu.decode_pdu(pdu).get("dcs", 0)
                if not (dcs & 0x10 and dcs & 3 == 3):
                    self.urc(f'+CMTI: "{n["storage"]}",{n["index"]}')
                    return
            del msgs[str(n["index"])]
            ms.flush_network_queue(st)
        self.urc(f"+CMT: ,{len(pdu) - smspdu.tpdu_offset(pdu)}\r\n{pdu.hex().upper()}")


# ===================================================================
# Command handlers
# ===================================================================

def _identity(key):
    def fn(eng, st, form, args):
        if form == "test":
            return []
        if form == "set":
            raise ATError()
        return [st["identity"][key]]
    return fn


handler("+CGMI", "+GMI")(_identity("manufacturer"))
handler("+CGMM", "+GMM")(_identity("model"))
handler("+CGMR", "+GMR")(_identity("revision"))
handler("+CGSN", "+GSN")(_identity("imei"))


@handler("+GCAP")
def h_gcap(eng, st, form, args):
    return [f"+GCAP: {st['identity']['gcap']}"]


@handler("I")
def h_ati(eng, st, form, args):
    n = as_int(args or "0", 0, 9)
    ident = st["identity"]
    if n == 0:
        return [f"Manufacturer: {ident['manufacturer']}", f"Model: {ident['model']}",
                f"Revision: {ident['revision']}", f"IMEI: {ident['imei']}",
                f"+GCAP: {ident['gcap']}"]
    return {3: [ident["manufacturer"]], 4: [ident["model"]],
            5: [ident["revision"]]}.get(n, [])


@handler("E")
def h_echo(eng, st, form, args):
    st["modem"]["echo"] = bool(as_int(args or "0", 0, 1))


@handler("V")
def h_verbose(eng, st, form, args):
    st["modem"]["verbose"] = bool(as_int(args or "0", 0, 1))


@handler("Q")
def h_quiet(eng, st, form, args):
    st["modem"]["quiet"] = bool(as_int(args or "0", 0, 1))


@handler("Z", "&F")
def h_atz(eng, st, form, args):
    # Back to the stored profile: echo on, verbose, CMEE 0. SMS settings
    # (CPMS, CNMI, CMGF) survive on Huawei keys, SIM state too.
    m = st["modem"]
    m.update(echo=True, verbose=True, quiet=False, cmee=0)


@handler("&C", "&D", "&K", "&W", "&V", "X", "L", "M", "H")
def h_ok(eng, st, form, args):
    return []


@handler("S")
def h_sreg(eng, st, form, args):
    if args.endswith("?"):
        n = as_int(args[:-1], 0, 255)
        return [{3: "013", 4: "010", 5: "008"}.get(n, "000")]
    return []


@handler("D")
def h_dial(eng, st, form, args):
    raise ATError()  # no voice/data calls: a data-only key in our tests


@handler("A")
def h_answer(eng, st, form, args):
    raise ATError()


@handler("+CMEE")
def h_cmee(eng, st, form, args):
    if form == "read":
        return [f"+CMEE: {st['modem']['cmee']}"]
    if form == "test":
        return ["+CMEE: (0-2)"]
    if form == "set":
        st["modem"]["cmee"] = as_int(split_args(args)[0] if args else None, 0, 2, 0)
    return []


@handler("+CSCS")
def h_cscs(eng, st, form, args):
    if form == "read":
        return [f'+CSCS: "{eng.enc_str(st, st["modem"]["cscs"])}"']
    if form == "test":
        return ['+CSCS: ("IRA","GSM","UCS2")']
    if form == "set":
        a = split_args(args)
        v = eng.dec_str(st, a[0] if a else None)
        if v is None or v.upper() not in ("IRA", "GSM", "UCS2"):
            raise cme(4)
        st["modem"]["cscs"] = v.upper()
        return []
    raise ATError()


@handler("^CURC")
def h_curc(eng, st, form, args):
    if form == "read":
        return [f"^CURC: {st['modem']['curc']}"]
    if form == "test":
        return ["^CURC: (0-1)"]
    if form == "set":
        st["modem"]["curc"] = as_int(split_args(args)[0] if args else None, 0, 1)
        return []
    raise ATError()


@handler("^PORTSEL")
def h_portsel(eng, st, form, args):
    if form == "read":
        return ["^PORTSEL: 0"]
    if form == "test":
        return ["^PORTSEL: (0-1)"]
    return []


@handler("+CFUN")
def h_cfun(eng, st, form, args):
    if form == "read":
        return [f"+CFUN: {st['modem']['cfun']}"]
    if form == "test":
        return ["+CFUN: (0,1,4),(0-1)"]
    if form != "set":
        raise ATError()
    a = split_args(args)
    fun = as_int(a[0] if a else None, 0, 7)
    rst = as_int(a[1] if len(a) > 1 else None, 0, 1, 0)
    if fun not in (0, 1, 4):
        raise cme(50)
    if rst == 1:
        if fun != 1:
            raise cme(50)
        # Soft reset: answered OK, then the key reboots: the SIM asks for
        # its PIN again and the volatile settings are back to defaults.
        ms.power_cycle(st, "AT+CFUN=1,1")
        cfg = st["config"]
        reen, reen_ms, boot = cfg["reenumerate_on_reset"], cfg["reenumerate_ms"], cfg["boot_ms"]
        eng._after.append(lambda: eng._after_reset(reen, reen_ms, boot))
        return []
    st["modem"]["cfun"] = fun
    return []


# ------------------------------------------------------------ SIM ---------

def _pin_ok(code: str | None) -> bool:
    return bool(code) and code.isdigit() and 4 <= len(code) <= 8


def _wrong_pin(st: dict) -> ATError:
    sim = st["sim"]
    sim["pin_attempts"] = max(0, sim["pin_attempts"] - 1)
    ms.add_event(st, "pin_wrong", attempts_left=sim["pin_attempts"])
    if sim["pin_attempts"] == 0:
        sim["lock"] = "SIM PUK"
        ms.add_event(st, "puk_required")
    return cme(16)


def _check_pin(st: dict, code: str | None) -> None:
    """Verify the SIM PIN (for +CLCK/+CPWD): consumes an attempt if wrong."""
    if not _pin_ok(code):
        raise cme(16)
    if code != st["sim"]["pin"]:
        raise _wrong_pin(st)
    st["sim"]["pin_attempts"] = 3


@handler("+CPIN")
def h_cpin(eng, st, form, args):
    sim = st["sim"]
    lock = sim["lock"]
    if form == "test":
        return []
    if form in ("read", "exec"):
        if lock == "NO SIM":
            raise cme(10)
        if lock == "SIM BLOCKED":
            raise cme(262)
        return [f"+CPIN: {lock}"]
    if form != "set":
        raise ATError()
    a = split_args(args)
    if not a:
        raise ATError()
    code = a[0]
    newpin = a[1] if len(a) > 1 else None
    if lock == "NO SIM":
        raise cme(10)
    if lock == "SIM BLOCKED":
        raise cme(262)
    if lock == "READY":
        raise cme(3)  # nothing to enter
    if lock == "SIM PIN":
        if not _pin_ok(code):
            raise cme(16)
        if code != sim["pin"]:
            raise _wrong_pin(st)
        sim["pin_attempts"] = 3
        sim["lock"] = "READY"
        ms.add_event(st, "pin_ok")
        return []
    # SIM PUK: AT+CPIN="<puk>","<new pin>"
    if newpin is None:
        raise cme(12)
    if not (code and code.isdigit() and len(code) == 8) or not _pin_ok(newpin):
        raise cme(16)
    if code != sim["puk"]:
        sim["puk_attempts"] = max(0, sim["puk_attempts"] - 1)
        ms.add_event(st, "puk_wrong", attempts_left=sim["puk_attempts"])
        if sim["puk_attempts"] == 0:
            sim["lock"] = "SIM BLOCKED"
            ms.add_event(st, "sim_blocked")
        raise cme(16)
    sim.update(pin=newpin, pin_attempts=3, puk_attempts=10, lock="READY")
    ms.add_event(st, "puk_ok")
    return []


@handler("^CPIN")
def h_hw_cpin(eng, st, form, args):
    """Huawei: ^CPIN: <code>,[<times>],<puk_times>,<pin_times>,<puk2_times>,<pin2_times>"""
    if form == "test":
        return []
    if form == "set":
        return h_cpin(eng, st, form, args)
    sim = st["sim"]
    lock = sim["lock"]
    if lock == "NO SIM":
        raise cme(10)
    times = {"SIM PIN": str(sim["pin_attempts"]), "SIM PUK": str(sim["puk_attempts"]),
             "SIM BLOCKED": "0"}.get(lock, "")
    return [f"^CPIN: {lock},{times},{sim['puk_attempts']},{sim['pin_attempts']},"
            f"{sim['puk2_attempts']},{sim['pin2_attempts']}"]


@handler("+CPINR")
def h_cpinr(eng, st, form, args):
    """27.007 +CPINR: <code>,<retries>,<default retries> (wildcards ok)."""
    if form == "test":
        return []
    sim = st["sim"]
    if not sim.get("present", True):
        raise cme(10)
    rows = [("SIM PIN", sim["pin_attempts"], 3), ("SIM PUK", sim["puk_attempts"], 10),
            ("SIM PIN2", sim["pin2_attempts"], 3), ("SIM PUK2", sim["puk2_attempts"], 10)]
    sel = None
    if form == "set":
        a = split_args(args)
        sel = a[0] if a else None
    out = []
    for code, n, d in rows:
        if sel is None or (sel.endswith("*") and code.startswith(sel[:-1])) or code == sel:
            out.append(f"+CPINR: {code},{n},{d}")
    return out


@handler("+CLCK")
def h_clck(eng, st, form, args):
    if form == "test":
        return ['+CLCK: ("SC","AO","OI","OX","AI","IR","AB","AG","AC","PN","FD")']
    if form != "set":
        raise ATError()
    a = split_args(args)
    if len(a) < 2:
        raise ATError()
    fac, mode = (a[0] or "").upper(), as_int(a[1], 0, 2)
    if fac != "SC":
        if mode == 2:
            return ["+CLCK: 0"]
        raise cme(4)
    eng.need_sim(st)
    if mode == 2:
        return [f"+CLCK: {1 if st['sim']['pin_enabled'] else 0}"]
    _check_pin(st, a[2] if len(a) > 2 else None)
    st["sim"]["pin_enabled"] = bool(mode)
    ms.add_event(st, "pin_lock", enabled=bool(mode))
    return []


@handler("+CPWD")
def h_cpwd(eng, st, form, args):
    if form == "test":
        return ['+CPWD: ("SC",8),("P2",8)']
    if form != "set":
        raise ATError()
    a = split_args(args)
    if len(a) < 3 or (a[0] or "").upper() != "SC":
        raise cme(4)
    eng.need_sim(st)
    _check_pin(st, a[1])
    if not _pin_ok(a[2]):
        raise cme(16)
    st["sim"]["pin"] = a[2]
    return []


@handler("+CIMI")
def h_cimi(eng, st, form, args):
    if form == "test":
        return []
    eng.need_sim(st)
    return [st["sim"]["imsi"]]


def _iccid_swapped(iccid: str) -> str:
    s = iccid if len(iccid) % 2 == 0 else iccid + "F"
    return "".join(s[i + 1] + s[i] for i in range(0, len(s), 2))


@handler("+CCID", "+ICCID", "^ICCID")
def h_iccid(eng, st, form, args):
    if form == "test":
        return []
    if not st["sim"].get("present", True):
        raise cme(10)
    if eng._cur_name == "^ICCID":
        return [f"^ICCID: {_iccid_swapped(st['sim']['iccid'])}"]
    return [f"+CCID: {st['sim']['iccid']}"]


@handler("+CRSM")
def h_crsm(eng, st, form, args):
    """Only READ BINARY of EF_ICCID (2FE2 = 12258), as ModemManager does."""
    if form != "set":
        return []
    a = split_args(args)
    if len(a) >= 2 and a[0] == "176" and a[1] == "12258":
        return [f'+CRSM: 144,0,"{_iccid_swapped(st["sim"]["iccid"])}"']
    return ['+CRSM: 106,130,""']


# --------------------------------------------------------- network --------

@handler("+CSQ")
def h_csq(eng, st, form, args):
    if form == "test":
        return ["+CSQ: (0-31,99),(0-7,99)"]
    if st["modem"]["cfun"] != 1:
        return ["+CSQ: 99,99"]
    return [f"+CSQ: {st['network']['rssi']},{st['network']['ber']}"]


def _creg_like(key: str, prefix: str):
    def fn(eng, st, form, args):
        if form == "test":
            return [f"{prefix}: (0-2)"]
        if form == "set":
            st["modem"][key] = as_int(split_args(args)[0] if args else None, 0, 2, 0)
            return []
        if form not in ("read",):
            raise ATError()
        n = st["modem"][key]
        reg = eng.reg_state(st)
        if key == "cgreg" and not st["network"].get("gprs_attached", True):
            reg = "not_registered"
        stat = ms.REG_CODES[reg]
        if n == 2 and reg in ("home", "roaming"):
            net = st["network"]
            return [f'{prefix}: {n},{stat},"{net["lac"]}","{net["ci"]}"']
        return [f"{prefix}: {n},{stat}"]
    return fn


handler("+CREG")(_creg_like("creg", "+CREG"))
handler("+CGREG")(_creg_like("cgreg", "+CGREG"))


@handler("+COPS")
def h_cops(eng, st, form, args):
    net = st["network"]
    if form == "test":
        if st["modem"]["cfun"] != 1:
            return ["+COPS: ,,(0-4),(0-2)"]
        return [f'+COPS: (2,"{net["operator"]}","{net["operator_short"]}",'
                f'"{net["mcc_mnc"]}",{net["act"]}),,(0,1,2,3,4),(0,1,2)']
    if form == "set":
        a = split_args(args)
        mode = as_int(a[0] if a else None, 0, 4)
        if mode == 3:
            st["modem"]["cops_format"] = as_int(a[1] if len(a) > 1 else None, 0, 2)
        elif mode in (0, 1, 4):
            if len(a) > 1 and a[1] is not None:
                st["modem"]["cops_format"] = as_int(a[1], 0, 2)
        return []
    if form != "read":
        raise ATError()
    if eng.reg_state(st) not in ("home", "roaming"):
        return ["+COPS: 0"]
    fmt = st["modem"]["cops_format"]
    name = {0: net["operator"], 1: net["operator_short"], 2: net["mcc_mnc"]}[fmt]
    if fmt != 2:
        name = eng.enc_str(st, name)
    return [f'+COPS: 0,{fmt},"{name}",{net["act"]}']


@handler("^SYSINFO")
def h_sysinfo(eng, st, form, args):
    """Huawei ^SYSINFO: srv_status,srv_domain,roam,sys_mode,sim_state,,sys_submode"""
    reg = eng.reg_state(st)
    srv = 2 if reg in ("home", "roaming") else (1 if reg == "denied" else 0)
    sim = {"READY": 1, "NO SIM": 255}.get(st["sim"]["lock"], 240)
    mode = (5 if st["network"]["act"] == 2 else 3) if srv == 2 else 0
    return [f"^SYSINFO:{srv},{3 if srv == 2 else 0},{1 if reg == 'roaming' else 0},"
            f"{mode},{sim},,{4 if mode == 5 else 0}"]


@handler("+CGATT")
def h_cgatt(eng, st, form, args):
    if form == "read":
        att = st["network"].get("gprs_attached", True) and eng.reg_state(st) in ("home", "roaming")
        return [f"+CGATT: {1 if att else 0}"]
    if form == "test":
        return ["+CGATT: (0,1)"]
    return []


@handler("+CGDCONT", "+CSDH", "+CSMP", "+CSCB", "+CMMS", "+CRC", "+CLIP",
         "+IFC", "^DSFLOWCLR", "+CVHU", "+CNMA")
def h_accept(eng, st, form, args):
    """Accepted and ignored (state kept only where it matters)."""
    if form == "read":
        return []
    return []


# ------------------------------------------------------------ SMS ---------

MEMS_READ = ("SM", "ME", "SR")
MEMS_WRITE = ("SM", "ME")


@handler("+CSCA")
def h_csca(eng, st, form, args):
    if form == "test":
        return []
    eng.need_sim(st, sms=True)
    if form == "read":
        num = st.get("smsc") or ""
        toa = 145 if num.startswith("+") else 129
        return [f'+CSCA: "{eng.enc_str(st, num)}",{toa}']
    if form == "set":
        a = split_args(args)
        num = eng.dec_str(st, a[0] if a else None)
        if not num:
            raise cms(304)
        st["smsc"] = num if num.startswith("+") or len(a) < 2 or a[1] != "145" else "+" + num
        return []
    raise ATError()


@handler("+CSMS")
def h_csms(eng, st, form, args):
    if form == "read":
        return [f"+CSMS: {st['modem']['csms']},1,1,1"]
    if form == "test":
        return ["+CSMS: (0,1)"]
    if form == "set":
        st["modem"]["csms"] = as_int(split_args(args)[0] if args else None, 0, 1)
        return ["+CSMS: 1,1,1"]
    raise ATError()


@handler("+CMGF")
def h_cmgf(eng, st, form, args):
    text_ok = st["config"]["text_mode"]
    if form == "read":
        return [f"+CMGF: {st['modem']['cmgf']}"]
    if form == "test":
        return ["+CMGF: (0-1)" if text_ok else "+CMGF: (0)"]
    if form == "set":
        v = as_int(split_args(args)[0] if args else None, 0, 1, 0)
        if v == 1 and not text_ok:
            raise cms(303)
        st["modem"]["cmgf"] = v
        return []
    raise ATError()


def _mem_counts(st, mem):
    s = st["storage"][mem]
    return len(s["messages"]), s["capacity"]


@handler("+CPMS")
def h_cpms(eng, st, form, args):
    if form == "test":
        r = ",".join(f'"{m}"' for m in MEMS_READ)
        w = ",".join(f'"{m}"' for m in MEMS_WRITE)
        return [f"+CPMS: ({r}),({w}),({w})"]
    eng.need_sim(st, sms=True)
    cur = st["modem"]["cpms"]
    if form == "read":
        parts = []
        for m in cur:
            u, c = _mem_counts(st, m)
            parts.append(f'"{m}",{u},{c}')
        return ["+CPMS: " + ",".join(parts)]
    if form != "set":
        raise ATError()
    a = [eng.dec_str(st, x) for x in split_args(args)]
    if not a or len(a) > 3 or any(x is None for x in a):
        raise cms(302)
    new = list(cur)
    for i, m in enumerate(a):
        m = m.upper()
        if m not in (MEMS_READ if i == 0 else MEMS_WRITE):
            raise cms(302)
        new[i] = m
    st["modem"]["cpms"] = new
    parts = []
    for m in new:
        parts += list(_mem_counts(st, m))
    return ["+CPMS: " + ",".join(str(x) for x in parts)]


@handler("+CNMI")
def h_cnmi(eng, st, form, args):
    allowed = [(0, 1, 2), (0, 1, 2, 3), (0, 2), (0, 1, 2), (0, 1)]
    if form == "read":
        return ["+CNMI: " + ",".join(str(x) for x in st["modem"]["cnmi"])]
    if form == "test":
        return ["+CNMI: (0,1,2),(0,1,2,3),(0,2),(0,1,2),(0,1)"]
    if form != "set":
        raise ATError()
    a = split_args(args)
    if not a or len(a) > 5:
        raise cms(302)
    new = list(st["modem"]["cnmi"])
    for i, v in enumerate(a):
        if v is None:
            continue
        n = as_int(v)
        if n not in allowed[i]:
            raise cms(303)
        new[i] = n
    st["modem"]["cnmi"] = new
    return []


def _read_mem(st):
    return st["modem"]["cpms"][0]


def _msg_line(prefix_fields: str, pdu_hex: str) -> list[str]:
    pdu = bytes.fromhex(pdu_hex)
    return [f"{prefix_fields},{len(pdu) - smspdu.tpdu_offset(pdu)}", pdu_hex]


@handler("+CMGL")
def h_cmgl(eng, st, form, args):
    if form == "test":
        return ["+CMGL: (0-4)"]
    eng.need_sim(st, sms=True)
    if st["modem"]["cmgf"] != 0:
        raise cms(303)
    a = split_args(args) if form == "set" else []
    stat = as_int(a[0] if a else None, 0, 4, 0)
    mem = _read_mem(st)
    msgs = st["storage"][mem]["messages"]
    out = []
    for idx in sorted(msgs, key=int):
        m = msgs[idx]
        code = ms.STATUS_NAMES.index(m["status"])
        if stat != 4 and code != stat:
            continue
        out += _msg_line(f"+CMGL: {idx},{code},", m["pdu"])
        if m["status"] == "REC UNREAD":
            m["status"] = "REC READ"
    return out


@handler("+CMGR")
def h_cmgr(eng, st, form, args):
    if form == "test":
        return []
    if form != "set":
        raise ATError()
    eng.need_sim(st, sms=True)
    idx = as_int(split_args(args)[0] if args else None)
    mem = _read_mem(st)
    if idx not in eng.index_range(st, mem):
        raise cms(321)
    m = st["storage"][mem]["messages"].get(str(idx))
    if m is None:
        raise cms(321)
    code = ms.STATUS_NAMES.index(m["status"])
    if m["status"] == "REC UNREAD":
        m["status"] = "REC READ"
    return _msg_line(f"+CMGR: {code},", m["pdu"])


@handler("+CMGD")
def h_cmgd(eng, st, form, args):
    mem = _read_mem(st)
    if form == "test":
        eng.need_sim(st, sms=True)
        used = ",".join(str(i) for i in ms.storage_indices(st, mem))
        return [f"+CMGD: ({used}),(0-4)"]
    if form != "set":
        raise ATError()
    eng.need_sim(st, sms=True)
    a = split_args(args)
    idx = as_int(a[0] if a else None)
    flag = as_int(a[1] if len(a) > 1 else None, 0, 4, 0)
    msgs = st["storage"][mem]["messages"]
    if flag == 0:
        if idx not in eng.index_range(st, mem):
            raise cms(321)
        msgs.pop(str(idx), None)
    else:
        kill = {1: ("REC READ",), 2: ("REC READ", "STO SENT"),
                3: ("REC READ", "STO SENT", "STO UNSENT")}.get(flag)
        for k in list(msgs):
            if kill is None or msgs[k]["status"] in kill:
                del msgs[k]
    ms.flush_network_queue(st)
    return []


def _prompt_len(args: str) -> int:
    a = split_args(args)
    return as_int(a[0] if a else None, 1, 255)


@handler("+CMGS")
def h_cmgs(eng, st, form, args):
    if form == "test":
        return []
    if form != "set":
        raise ATError()
    eng.need_sim(st, sms=True)
    if st["modem"]["cmgf"] != 0:
        raise cms(303)
    n = _prompt_len(args)
    raise Prompt({"cmd": "CMGS", "length": n})


@handler("+CMGW")
def h_cmgw(eng, st, form, args):
    if form == "test":
        return []
    if form != "set":
        raise ATError()
    eng.need_sim(st, sms=True)
    if st["modem"]["cmgf"] != 0:
        raise cms(303)
    a = split_args(args)
    n = as_int(a[0] if a else None, 1, 255)
    stat = as_int(a[1] if len(a) > 1 else None, 0, 3, 2)
    raise Prompt({"cmd": "CMGW", "length": n, "stat": stat})


@handler("+CMSS")
def h_cmss(eng, st, form, args):
    if form == "test":
        return []
    if form != "set":
        raise ATError()
    eng.need_sim(st, sms=True)
    a = split_args(args)
    idx = as_int(a[0] if a else None)
    mem = st["modem"]["cpms"][1]
    m = st["storage"][mem]["messages"].get(str(idx))
    if m is None:
        raise cms(321)
    pdu = bytes.fromhex(m["pdu"])
    try:
        dec = smspdu.decode_pdu(pdu)
    except smspdu.PDUError:
        raise cms(304) from None
    if dec["type"] != "SUBMIT":
        raise cms(302)
    if len(a) > 1 and a[1]:
        dec["number"] = a[1]
    mr = eng.send_submit(st, pdu, dec, eng._after)
    m["status"] = "STO SENT"
    return [f"+CMSS: {mr}"]


@handler("+CHUP")
def h_chup(eng, st, form, args):
    return []  # no call to hang up: OK, like the real key


@handler("+CUSD")
def h_cusd(eng, st, form, args):
    """USSD: +CUSD=1 enables result codes; +CUSD=1,"*100#",15 answers with
    the text configured in state["ussd"] (an unsolicited +CUSD a moment
    later, like the network)."""
    if form == "read":
        return [f"+CUSD: {st['modem'].get('cusd', 0)}"]
    if form == "test":
        return ["+CUSD: (0-2)"]
    if form != "set":
        raise ATError()
    a = split_args(args)
    n = as_int(a[0] if a else None, 0, 2, 0)
    st["modem"]["cusd"] = n
    if len(a) > 1 and a[1] is not None:
        eng.need_sim(st)
        if eng.reg_state(st) not in ("home", "roaming"):
            raise cme(30)
        # Huawei keys take and give USSD strings as packed GSM 7-bit in hex
        # whatever +CSCS says (libgammu knows: it encodes them that way).
        code = _ussd_unpack(a[1])
        reply = st.get("ussd", {}).get(code)
        if reply is None:
            line = "+CUSD: 4"
        else:
            packed, _ = smspdu.gsm7_encode(reply if smspdu.gsm7_encodable(reply) else "?")
            line = f'+CUSD: 0,"{packed.hex().upper()}",15'
        eng._after.append(lambda: eng.link.schedule(0.2, lambda: eng.urc(line)))
    return []


def _ussd_unpack(s: str) -> str:
    if not re.fullmatch(r"([0-9A-Fa-f]{2})+", s):
        return s
    data = bytes.fromhex(s)
    sep = smspdu.unpack_septets(data, len(data) * 8 // 7)
    if len(data) * 8 % 7 == 0 and sep and sep[-1] == 0:
        sep = sep[:-1]  # fill bits, not an '@'
    return smspdu.gsm7_decode_septets(sep).rstrip("\r")


PHONEBOOKS = {"SM": 250, "ON": 4, "EN": 8}


@handler("+CPBS")
def h_cpbs(eng, st, form, args):
    """Phonebook storages of the key (all empty: Vigie does not use them)."""
    if form == "test":
        return ["+CPBS: (" + ",".join(f'"{k}"' for k in PHONEBOOKS) + ")"]
    eng.need_sim(st)
    if form == "read":
        pb = st["modem"].get("cpbs", "SM")
        return [f'+CPBS: "{pb}",0,{PHONEBOOKS[pb]}']
    if form != "set":
        raise ATError()
    a = split_args(args)
    pb = (eng.dec_str(st, a[0] if a else None) or "").upper()
    if pb not in PHONEBOOKS:
        raise cme(3)
    st["modem"]["cpbs"] = pb
    return []


@handler("+CPBR")
def h_cpbr(eng, st, form, args):
    eng.need_sim(st)
    pb = st["modem"].get("cpbs", "SM")
    if form == "test":
        return [f"+CPBR: (1-{PHONEBOOKS[pb]}),40,14"]
    if form != "set":
        raise ATError()
    a = split_args(args)
    lo = as_int(a[0] if a else None, 1, PHONEBOOKS[pb])
    hi = as_int(a[1] if len(a) > 1 else None, lo, PHONEBOOKS[pb], lo)
    if lo == hi:
        raise cme(22)  # not found: empty entry
    return []


@handler("+CLAC")
def h_clac(eng, st, form, args):
    return sorted("AT" + k for k in HANDLERS if k[0] in "+^")


# ===================================================================
# The process: transports, control socket, timers
# ===================================================================

class Emulator:
    """One process: an AT link (stdio or pty), an optional control socket,
    and a select() loop. Single-threaded and deterministic for a given
    --seed and input timing."""

    POLL_S = 0.1  # how often the state file is checked for notifications

    def __init__(self, args):
        self.args = args
        self.store = ms.Store(args.state)
        self.rng = random.Random(args.seed)
        self.sel = selectors.DefaultSelector()
        self.timers: list = []
        self.timer_seq = 0
        self.outq: collections.deque = collections.deque()  # (due, bytes)
        self.last_due = 0.0
        self.stop = False
        self.exit_code = 0
        self.rfd = self.wfd = None
        self.master = self.slave = None
        self.link_path = os.path.abspath(args.pty) if args.pty else None
        self.ctrl = None
        self.ctrl_clients: dict = {}
        self.logf = open(args.log, "a", encoding="utf-8") if args.log else None
        self.engine = None

    # ----------------------------------------------------------- link --

    def log(self, direction: str, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {os.getpid()} {direction} {text}"
        if self.logf:
            self.logf.write(line + "\n")
            self.logf.flush()
        if self.args.verbose:
            print(line, file=sys.stderr, flush=True)

    def write(self, data: bytes, kind: str) -> None:
        """Queue bytes for the host, applying the slow/garbage faults."""
        if self.wfd is None:
            return
        faults = self.store.read()["faults"] if kind != "echo" else {}
        delay = 0.0
        if kind != "echo" and "slow" in faults:
            delay = faults["slow"].get("ms", 2000) / 1000.0
        if kind != "echo" and "garbage" in faults:
            f = faults["garbage"]
            if self.rng.random() < f.get("probability", 1.0):
                data = bytes(self.rng.randrange(256) for _ in range(max(1, len(data))))
                if f.get("count"):
                    with self.store.edit() as st:
                        g = st["faults"].get("garbage")
                        if g:
                            g["count"] -= 1
                            if g["count"] <= 0:
                                del st["faults"]["garbage"]
        due = max(time.monotonic() + delay, self.last_due)
        self.last_due = due
        self.outq.append((due, data))
        self._pending_bytes += len(data)
        if self._pending_bytes > 256 * 1024:  # nobody reads: drop, like a UART
            self.outq.clear()
            self._wbuf = b""
            self._pending_bytes = 0
            return
        self._flush_out()

    _pending_bytes = 0
    _wbuf = b""

    def _flush_out(self) -> None:
        now = time.monotonic()
        while self.outq and self.outq[0][0] <= now:
            self._wbuf += self.outq.popleft()[1]
        if not self._wbuf or self.wfd is None:
            return
        try:
            n = os.write(self.wfd, self._wbuf)
            self._wbuf = self._wbuf[n:]
            self._pending_bytes = max(0, self._pending_bytes - n)
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno in (errno.EPIPE, errno.EIO, errno.EBADF):
                self._wbuf = b""
                if self.link_path is None:  # proxyat: host went away
                    self.stop = True
            else:
                raise
        self._update_write_interest()

    def _update_write_interest(self) -> None:
        if self.wfd is None:
            return
        want = selectors.EVENT_READ if self.wfd == self.rfd else 0
        if self._wbuf:
            want |= selectors.EVENT_WRITE
        try:
            key = self.sel.get_key(self.wfd)
            if want == 0:
                self.sel.unregister(self.wfd)
            elif key.events != want:
                self.sel.modify(self.wfd, want, key.data)
        except KeyError:
            if want:
                self.sel.register(self.wfd, want, self._on_link_io)

    def schedule(self, seconds: float, fn) -> None:
        self.timer_seq += 1
        heapq.heappush(self.timers, (time.monotonic() + seconds, self.timer_seq, fn))

    # ------------------------------------------------------ transports --

    def open_stdio(self) -> None:
        self.rfd, self.wfd = 0, 1
        os.set_blocking(0, False)
        os.set_blocking(1, False)
        if self.rfd != self.wfd:
            self.sel.register(self.rfd, selectors.EVENT_READ, self._on_link_io)

    def open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo/canonical processing by the line discipline
        os.set_blocking(master, False)
        name = os.ttyname(slave)
        with_suppress(os.chmod, name, 0o666)  # tests may run the client as another user
        self.master, self.slave = master, slave
        self.rfd = self.wfd = master
        self.sel.register(master, selectors.EVENT_READ, self._on_link_io)
        tmp = f"{self.link_path}.tmp{os.getpid()}"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.link_path)
        self.log("*", f"pty {name} linked at {self.link_path}")

    def close_pty(self) -> None:
        if self.master is None:
            return
        try:
            if os.path.islink(self.link_path) and os.readlink(self.link_path) == os.ttyname(self.slave):
                os.unlink(self.link_path)
        except OSError:
            pass
        with_suppress(self.sel.unregister, self.master)
        for fd in (self.master, self.slave):
            with_suppress(os.close, fd)
        self.master = self.slave = self.rfd = self.wfd = None
        self.outq.clear()
        self._wbuf = b""
        self._pending_bytes = 0
        self.log("*", "pty closed (device vanished)")

    def reenumerate(self, ms_: int, new_link: str | None = None) -> None:
        """The key drops off the USB bus for ms_ and comes back (maybe under
        another name). In proxyat mode the process just exits once its
        output is flushed: the host sees the device go away."""
        if self.link_path is None:
            # New processes started while the key is "off the bus" find no
            # device (they exit at once), like opening a vanished ttyUSB.
            with self.store.edit() as st:
                st["absent_until"] = time.time() + ms_ / 1000.0
            self.schedule(0.05, self._exit_vanished)
            return
        new_link = new_link or self.store.read()["config"].get("reenumerate_link")
        self.schedule(0.05, lambda: self._vanish_now(ms_, new_link))

    def _exit_vanished(self) -> None:
        self._flush_out()
        self.log("*", "device vanished (exit)")
        self.stop = True

    _reappear_pending = False

    def _vanish_now(self, ms_: int | None, new_link: str | None) -> None:
        self.close_pty()
        if new_link:
            self.link_path = os.path.abspath(new_link)
        if ms_ is not None:
            self._reappear_pending = True
            self.schedule(ms_ / 1000.0, self.appear)
        else:
            with self.store.edit() as st:
                st["absent_until"] = st["absent_until"] or "forever"

    def appear(self, new_link: str | None = None) -> None:
        self._reappear_pending = False
        if new_link:
            self.link_path = os.path.abspath(new_link)
        with self.store.edit() as st:
            st["absent_until"] = None
            st["faults"].pop("vanish", None)
        if self.link_path and self.master is None:
            self.open_pty()
            self.engine = ATEngine(self.store, self, self.rng)

    def _on_link_io(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush_out()
        if not (mask & selectors.EVENT_READ) or self.rfd is None:
            return
        try:
            data = os.read(self.rfd, 4096)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno == errno.EIO:  # pty: no slave open (cannot happen: we hold one)
                return
            raise
        if not data:
            if self.link_path is None:
                self.log("*", "EOF on stdin: host closed the device")
                self.stop = True
            return
        self.engine.feed(data)

    # --------------------------------------------------------- control --

    def open_control(self, path: str) -> None:
        path = os.path.abspath(path)
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(8)
        s.setblocking(False)
        self.ctrl = s
        self.ctrl_path = path
        self.sel.register(s, selectors.EVENT_READ, self._on_ctrl_accept)

    def _on_ctrl_accept(self, mask: int) -> None:
        try:
            c, _ = self.ctrl.accept()
        except BlockingIOError:
            return
        c.setblocking(False)
        self.ctrl_clients[c] = b""
        self.sel.register(c, selectors.EVENT_READ, lambda m, c=c: self._on_ctrl_data(c))

    def _on_ctrl_data(self, c: socket.socket) -> None:
        try:
            data = c.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop_client(c)
            return
        buf = self.ctrl_clients[c] + data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                resp = self.control(line)
                try:
                    c.setblocking(True)
                    c.sendall((json.dumps(resp, ensure_ascii=False) + "\n").encode())
                    c.setblocking(False)
                except OSError:
                    self._drop_client(c)
                    return
        if len(buf) > 1 << 20:
            self._drop_client(c)
            return
        self.ctrl_clients[c] = buf

    def _drop_client(self, c) -> None:
        with_suppress(self.sel.unregister, c)
        self.ctrl_clients.pop(c, None)
        with_suppress(c.close)

    def control(self, line: bytes) -> dict:
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ms.OpError("request must be a JSON object")
            op = req.get("op")
            if op == "appear":
                self.appear(req.get("link"))
                return {"ok": True, "link": self.link_path}
            if op == "session":
                return {"ok": True, "pid": os.getpid(), "link": self.link_path,
                        "transport": "pty" if self.link_path else "stdio",
                        "pty": os.ttyname(self.slave) if self.slave is not None else None}
            with self.store.edit() as st:
                body = ms.apply_op(st, req)
            if op == "fault" and req.get("kind") == "vanish":
                if self.link_path:
                    self._vanish_now(req.get("ms"), req.get("link"))
                else:
                    self.schedule(0.05, self._exit_vanished)
            if op in ("power_cycle", "reset"):
                # {"op":"power_cycle","reenumerate":true,"ms":2000,"link":"/new"}:
                # the key also drops off the bus for ms (pty: the link goes
                # away and comes back, maybe renamed; stdio: the process exits).
                cfg = self.store.read()["config"]
                if self.engine:
                    self.engine._after_reset(False, 0, cfg["boot_ms"])
                if req.get("reenumerate"):
                    self.reenumerate(req.get("ms", cfg["reenumerate_ms"]), req.get("link"))
            if self.engine:
                self.engine.poll_notifications()
            return {"ok": True, **body}
        except (ms.OpError, smspdu.PDUError, ValueError, KeyError, TypeError) as e:
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}

    # ------------------------------------------------------------ loop --

    def run(self) -> int:
        st = self.store.read()
        absent = st.get("absent_until")
        if absent and (absent == "forever" or absent > time.time()) and not self.link_path:
            print("atmodem: device absent (vanish fault active)", file=sys.stderr)
            return 1
        with self.store.edit() as st:
            st["counters"]["sessions"] += 1
            # A hang that "reconnect" cures: a new cable, a new chance.
            for k in [k for k, f in st["faults"].items() if f.get("clear_on") == "reopen"]:
                del st["faults"][k]
        if self.args.control:
            self.open_control(self.args.control)
        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        signal.set_wakeup_fd(wsock.fileno())
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(rsock, selectors.EVENT_READ, lambda m: with_suppress(rsock.recv, 512))
        if self.link_path:
            if absent and (absent == "forever" or absent > time.time()):
                if absent != "forever":
                    self.schedule(absent - time.time(), self.appear)
            else:
                self.open_pty()
        else:
            self.open_stdio()
        self.engine = ATEngine(self.store, self, self.rng)
        self.log("*", f"started ({'pty' if self.link_path else 'stdio'}), state {self.store.path}")
        next_poll = 0.0
        try:
            while not self.stop:
                now = time.monotonic()
                timeout = max(0.0, next_poll - now)
                if self.timers:
                    timeout = min(timeout, max(0.0, self.timers[0][0] - now))
                if self.outq:
                    timeout = min(timeout, max(0.0, self.outq[0][0] - now))
                for key, mask in self.sel.select(timeout):
                    key.data(mask)
                    if self.stop:
                        break
                now = time.monotonic()
                while self.timers and self.timers[0][0] <= now:
                    _, _, fn = heapq.heappop(self.timers)
                    fn()
                if self.outq:
                    self._flush_out()
                if now >= next_poll:
                    next_poll = now + self.POLL_S
                    if self.engine and (self.master is not None or self.link_path is None):
                        self.engine.poll_notifications()
                    self._check_absent()
        finally:
            self._flush_out()
            self.shutdown()
        return self.exit_code

    def _check_absent(self) -> None:
        """A vanish fault set offline (ctl) applies to a running emulator;
        an offline clear brings a vanished pty back."""
        st = self.store.read()
        absent = st.get("absent_until")
        if absent and absent != "forever" and absent <= time.time() and not self.link_path:
            # A stdio "vanish" whose time is over: the device is back.
            with self.store.edit() as st:
                st["absent_until"] = None
                st["faults"].pop("vanish", None)
            absent = None
        if "vanish" in st["faults"] and absent:
            if self.link_path and self.master is not None:
                ms_ = None if absent == "forever" else max(0, int((absent - time.time()) * 1000))
                self._vanish_now(ms_, st["faults"]["vanish"].get("link"))
            elif not self.link_path:
                self.stop = True
        elif self.link_path and self.master is None and not absent and not self._reappear_pending:
            self.appear()

    def _on_signal(self, signum, frame) -> None:
        self.stop = True

    def shutdown(self) -> None:
        if self.link_path:
            self.close_pty()
        else:  # leave stdin/stdout as we found them (a terminal, say)
            for fd in (0, 1):
                with_suppress(os.set_blocking, fd, True)
        if self.ctrl is not None:
            with_suppress(os.unlink, self.ctrl_path)
            with_suppress(self.ctrl.close)
        self.log("*", "stopped")


def with_suppress(fn, *a):
    try:
        return fn(*a)
    except Exception:
        return None


# ===================================================================
# Command line
# ===================================================================

def parse_kv(items: list[str]) -> dict:
    """ctl arguments: one JSON object, or key=value pairs (values parsed as
    JSON when possible: rssi=12, order=[2,1], pin_enabled=false)."""
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        return json.loads(items[0])
    out = {}
    for it in items:
        if "=" not in it:
            raise SystemExit(f"ctl: expected key=value, got {it!r}")
        k, v = it.split("=", 1)
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def ctl(args) -> int:
    req = {"op": args.op, **parse_kv(args.params)}
    if args.op in ("deliver",) and "from" in req and not isinstance(req["from"], str):
        req["from"] = str(req["from"])
    if "text" in req and not isinstance(req["text"], str):
        req["text"] = str(req["text"])
    if args.control and os.path.exists(args.control):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(args.control)
                s.sendall((json.dumps(req) + "\n").encode())
                buf = b""
                while not buf.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            resp = json.loads(buf)
            print(json.dumps(resp, ensure_ascii=False, indent=1))
            return 0 if resp.get("ok") else 1
        except (ConnectionRefusedError, FileNotFoundError):
            pass  # stale socket: fall back to the file
    if not args.state:
        raise SystemExit("ctl: --state is required when no control socket answers")
    store = ms.Store(args.state)
    try:
        with store.edit() as st:
            body = ms.apply_op(st, req)
        resp = {"ok": True, "offline": True, **body}
    except (ms.OpError, smspdu.PDUError, ValueError, KeyError, TypeError) as e:
        resp = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(resp, ensure_ascii=False, indent=1))
    return 0 if resp.get("ok") else 1


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("ctl", "init"):
        p = argparse.ArgumentParser(prog="atmodem.py ctl",
                                    description="Control an emulated modem (socket or state file).")
        p.add_argument("--state", help="state file (used directly when no emulator answers)")
        p.add_argument("--control", help="control socket of a running emulator")
        if argv[0] == "init":
            p.add_argument("params", nargs="*", help="state overrides key=value")
            a = p.parse_args(argv[1:])
            a.op = "init"
            a.params = [json.dumps({"overrides": parse_kv(a.params)})]
        else:
            p.add_argument("op")
            p.add_argument("params", nargs="*", help="JSON object or key=value pairs")
            a = p.parse_args(argv[1:])
        return ctl(a)
    if argv and argv[0] == "serve":
        argv = argv[1:]
    p = argparse.ArgumentParser(prog="atmodem.py",
                                description="AT modem emulator (Huawei E1750 class).")
    p.add_argument("--state", required=True, help="JSON state file (created if missing)")
    p.add_argument("--pty", metavar="LINK", help="serve on a pty symlinked at LINK (default: stdin/stdout)")
    p.add_argument("--control", metavar="SOCK", help="Unix control socket path")
    p.add_argument("--seed", type=int, default=0, help="random seed (garbage fault)")
    p.add_argument("--log", metavar="FILE", help="append an AT transcript to FILE")
    p.add_argument("--verbose", "-v", action="store_true", help="transcript on stderr")
    args = p.parse_args(argv)
    store = ms.Store(args.state)
    if not store.exists():
        with store.edit():
            pass
    return Emulator(args).run()


if __name__ == "__main__":
    sys.exit(main())
