"""Persistent state of the emulated modem (one JSON file) and the control
operations that edit it.

The JSON file *is* the modem: SIM, identity, network, SMS storages, the log
of sent messages, the modem's volatile settings (echo, CMEE, CPMS, CNMI...,
reset by a power cycle or AT+CFUN=1,1) and the active faults. Emulator
processes are only "cables" to it: with `connection = proxyat` libgammu
forks a new emulator for every session, and all of them see the same modem.

Every read-modify-write happens under an exclusive flock on `<state>.lock`
and the file is replaced atomically (write to a temp file, rename), so the
emulator, the offline `ctl` command and concurrent test processes can share
it safely.

`apply_op()` implements the control operations (deliver, set, fault, ...)
on a state dict; the running emulator calls it for control-socket requests
and `atmodem.py ctl` calls it directly on the file when no emulator runs.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import fcntl
import json
import os
import tempfile
import time

import smspdu

STATE_VERSION = 1

# Registration names <-> +CREG <stat> values (27.007 7.2).
REG_CODES = {
    "not_registered": 0,   # not registered, not searching
    "home": 1,
    "searching": 2,
    "denied": 3,
    "unknown": 4,
    "roaming": 5,
}

LOCK_STATES = ("READY", "SIM PIN", "SIM PUK", "SIM BLOCKED", "NO SIM")

STATUS_NAMES = ("REC UNREAD", "REC READ", "STO UNSENT", "STO SENT")


def default_modem_settings() -> dict:
    """Volatile settings of the modem: what a power cycle resets."""
    return {
        "cfun": 1,            # 1 full, 0 minimum, 4 RF off
        "echo": True,         # ATE1 is the power-on default of real keys
        "verbose": True,      # ATV1
        "quiet": False,       # ATQ0
        "cmee": 0,
        "cmgf": 0,
        "cscs": "IRA",
        "cpms": ["SM", "SM", "SM"],
        "cnmi": [0, 0, 0, 0, 0],
        "creg": 0,
        "cgreg": 0,
        "cops_format": 0,
        "curc": 1,            # Huawei: periodic ^RSSI/^MODE... (see README)
        "csdh": 0,
        "csmp": [17, 167, 0, 0],
        "csms": 0,
    }


def default_state() -> dict:
    return {
        "version": STATE_VERSION,
        "sim": {
            "present": True,
            "iccid": "89330123456789012345",
            "imsi": "208011234567890",
            "pin": "1234",
            "puk": "12345678",
            "pin2": "5678",
            "puk2": "87654321",
            "pin_attempts": 3,
            "puk_attempts": 10,
            "pin2_attempts": 3,
            "puk2_attempts": 10,
            "pin_enabled": True,      # PIN asked at power-on
            "lock": "SIM PIN",        # current lock state (see LOCK_STATES)
        },
        "identity": {
            "manufacturer": "huawei",
            "model": "E1750",
            "revision": "11.126.16.04.284",
            "imei": "353142034567899",
            "gcap": "+CGSM,+DS,+ES",
        },
        "network": {
            "registration": "home",
            "operator": "Orange F",
            "operator_short": "Orange",
            "mcc_mnc": "20801",
            "act": 2,                 # 0 GSM, 2 UTRAN
            "lac": "1A2B",
            "ci": "00C3D4E5",
            "rssi": 18,
            "ber": 99,
            "gprs_attached": True,
        },
        "smsc": "+33689004000",
        "ussd": {"*100#": "Votre credit est de 5,00 EUR."},
        "storage": {
            "SM": {"capacity": 10, "messages": {}},
            "ME": {"capacity": 20, "messages": {}},
            "SR": {"capacity": 10, "messages": {}},
        },
        "config": {
            "index_base": 0,          # Huawei keys number SIM slots from 0
            "text_mode": False,       # AT+CMGF=1 refused (PDU only)
            "unknown_reply": "error",  # error | cme | not_support
            "max_line": 1024,         # longer command lines -> ERROR
            "min_send_rssi": 2,       # weaker signal: +CMS ERROR: 500
            "delivery_reports": True,  # store SMS-STATUS-REPORT when asked
            "reenumerate_on_reset": False,  # AT+CFUN=1,1 drops the device
            "reenumerate_ms": 1500,
            "reenumerate_link": None,  # pty: come back under this path
            "boot_ms": 0,             # after a reset: no answer this long
        },
        "modem": default_modem_settings(),
        "counters": {"mr_next": 1, "concat_ref": 1, "notify_seq": 0,
                     "boots": 1, "sessions": 0},
        "notify_queue": [],
        "network_queue": [],          # deliveries waiting for free storage
        "sent": [],
        "send_failures": [],
        "faults": {},
        "absent_until": None,         # device gone (vanish) until then
        "unsupported": {},            # unknown AT commands seen -> count
        "events": [],                 # PIN tries, resets... (bounded)
    }


def _merge_defaults(state: dict, defaults: dict) -> dict:
    """Fill missing keys (state files written by older versions or by hand
    with only a few keys)."""
    for k, v in defaults.items():
        if k not in state:
            state[k] = copy.deepcopy(v)
        elif isinstance(v, dict) and isinstance(state[k], dict) and k not in (
                "messages", "faults", "unsupported"):
            _merge_defaults(state[k], v)
    return state


class Store:
    """The JSON state file with flock-protected read-modify-write."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.lock_path = self.path + ".lock"
        self._cache_key = None
        self._cache = None

    def exists(self) -> bool:
        return os.path.exists(self.path)

    @contextlib.contextmanager
    def _locked(self, exclusive: bool):
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _stat_key(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load_unlocked(self) -> dict:
        key = self._stat_key()
        if key is None:
            return default_state()
        if key == self._cache_key and self._cache is not None:
            return copy.deepcopy(self._cache)
        with open(self.path, encoding="utf-8") as f:
            text = f.read()
        state = json.loads(text) if text.strip() else {}
        state = _merge_defaults(state, default_state())
        self._cache_key, self._cache = key, copy.deepcopy(state)
        return state

    def _save_unlocked(self, state: dict) -> None:
        d = os.path.dirname(self.path) or "."
        fd, tmp = tempfile.mkstemp(prefix=".atmodem-", dir=d)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state, f, indent=1, ensure_ascii=False, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._cache_key, self._cache = self._stat_key(), copy.deepcopy(state)

    # flock() locks belong to an open file description: a second lock taken
    # by this process while it holds one would deadlock. So read() and edit()
    # are re-entrant: inside edit() they return the dict being edited.
    _held = None

    def read(self) -> dict:
        """The current state. Treat it as read-only (use edit() to change)."""
        if self._held is not None:
            return self._held
        with self._locked(False):
            return self._load_unlocked()

    @contextlib.contextmanager
    def edit(self):
        """Yield the state dict; written back (atomically) if changed."""
        if self._held is not None:
            yield self._held
            return
        with self._locked(True):
            state = self._load_unlocked()
            before = json.dumps(state, sort_keys=True)
            self._held = state
            try:
                yield state
            finally:
                self._held = None
            if json.dumps(state, sort_keys=True) != before or not self.exists():
                self._save_unlocked(state)

    def changed_since(self, key) -> tuple[bool, object]:
        k = self._stat_key()
        return k != key, k


# --------------------------------------------------------------------------
# Helpers on a state dict
# --------------------------------------------------------------------------

def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def add_event(state: dict, kind: str, **info) -> None:
    ev = {"time": now_iso(), "event": kind, **info}
    state["events"].append(ev)
    del state["events"][:-200]


def power_on_lock(state: dict) -> str:
    """Lock state of the SIM right after a power-on/reset."""
    sim = state["sim"]
    if not sim.get("present", True):
        return "NO SIM"
    if sim["puk_attempts"] <= 0:
        return "SIM BLOCKED"
    if sim["pin_attempts"] <= 0:
        return "SIM PUK"
    return "SIM PIN" if sim.get("pin_enabled", True) else "READY"


def power_cycle(state: dict, reason: str) -> None:
    """What a (soft) reset does: the SIM asks for the PIN again, volatile
    settings back to defaults, faults declared with clear_on="reset" are
    cured (and reset_on_timeout, which has just fired). The power_cycle
    control operation clears every fault on top of this."""
    state["sim"]["lock"] = power_on_lock(state)
    state["modem"] = default_modem_settings()
    state["counters"]["boots"] += 1
    state["faults"] = {k: v for k, v in state["faults"].items()
                       if v.get("clear_on") != "reset" and k != "reset_on_timeout"}
    add_event(state, "reset", reason=reason, lock=state["sim"]["lock"])


def storage_indices(state: dict, mem: str) -> list[int]:
    return sorted(int(i) for i in state["storage"][mem]["messages"])


def free_index(state: dict, mem: str) -> int | None:
    st = state["storage"][mem]
    base = state["config"]["index_base"]
    used = {int(i) for i in st["messages"]}
    for i in range(base, base + st["capacity"]):
        if i not in used:
            return i
    return None


def store_pdu(state: dict, mem: str, pdu_hex: str, status: str) -> int | None:
    idx = free_index(state, mem)
    if idx is None:
        return None
    state["storage"][mem]["messages"][str(idx)] = {
        "status": status, "pdu": pdu_hex.upper(), "stored": now_iso()}
    return idx


def queue_notification(state: dict, kind: str, **info) -> None:
    state["counters"]["notify_seq"] += 1
    state["notify_queue"].append({"seq": state["counters"]["notify_seq"],
                                  "kind": kind, **info})
    del state["notify_queue"][:-100]


def flush_network_queue(state: dict) -> None:
    """Deliveries that found the storage full are retried (like an SMSC
    retrying) whenever a slot frees."""
    waiting = state["network_queue"]
    state["network_queue"] = []
    for item in waiting:
        idx = store_pdu(state, item["storage"], item["pdu"], "REC UNREAD")
        if idx is None:
            state["network_queue"].append(item)
        else:
            queue_notification(state, "sms", storage=item["storage"], index=idx)


def parse_timestamp(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now().astimezone().replace(microsecond=0)
    ts = dt.datetime.fromisoformat(value)
    if ts.tzinfo is None:
        ts = ts.astimezone()
    return ts


def decode_stored(state: dict, mem: str) -> list[dict]:
    out = []
    for idx in storage_indices(state, mem):
        m = state["storage"][mem]["messages"][str(idx)]
        try:
            d = smspdu.decode_pdu(bytes.fromhex(m["pdu"]))
        except (smspdu.PDUError, ValueError) as e:
            d = {"error": str(e)}
        out.append({"storage": mem, "index": idx, "status": m["status"], **d})
    return out


def group_sent(sent: list[dict]) -> list[dict]:
    """Reassemble the sent log into messages (parts joined by destination
    and concatenation reference, in sequence order)."""
    groups: dict = {}
    order = []
    for p in sent:
        c = p.get("concat")
        key = (p["number"], c["ref"], c["total"]) if c else ("single", p["id"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(p)
    out = []
    for key in order:
        parts = sorted(groups[key], key=lambda p: (p.get("concat") or {}).get("seq", 0))
        c = parts[0].get("concat")
        out.append({
            "number": parts[0]["number"],
            "text": "".join(p.get("text") or "" for p in parts),
            "encoding": parts[0].get("encoding"),
            "parts": len(parts),
            "expected_parts": c["total"] if c else 1,
            "complete": (not c) or len({p["concat"]["seq"] for p in parts}) == c["total"],
            "mrs": [p["mr"] for p in parts],
            "ids": [p["id"] for p in parts],
        })
    return out


# --------------------------------------------------------------------------
# Control operations
# --------------------------------------------------------------------------

class OpError(Exception):
    pass


SET_ALIASES = {
    # short names accepted by "set" -> path in the state
    "rssi": "network.rssi", "ber": "network.ber",
    "registration": "network.registration", "operator": "network.operator",
    "operator_short": "network.operator_short", "mcc_mnc": "network.mcc_mnc",
    "lac": "network.lac", "ci": "network.ci", "act": "network.act",
    "pin": "sim.pin", "puk": "sim.puk", "pin_attempts": "sim.pin_attempts",
    "puk_attempts": "sim.puk_attempts", "pin_enabled": "sim.pin_enabled",
    "lock": "sim.lock", "sim_present": "sim.present", "iccid": "sim.iccid",
    "imsi": "sim.imsi", "imei": "identity.imei", "model": "identity.model",
    "manufacturer": "identity.manufacturer", "revision": "identity.revision",
    "smsc": "smsc",
}


def _set_path(state: dict, path: str, value) -> None:
    keys = path.split(".")
    d = state
    for k in keys[:-1]:
        if k not in d or not isinstance(d[k], dict):
            raise OpError(f"unknown state path {path!r}")
        d = d[k]
    if keys[-1] not in d and keys[0] not in ("config", "faults", "storage"):
        raise OpError(f"unknown state path {path!r}")
    d[keys[-1]] = value


def _validate(state: dict) -> None:
    reg = state["network"]["registration"]
    if reg not in REG_CODES:
        raise OpError(f"registration must be one of {sorted(REG_CODES)}")
    if state["sim"]["lock"] not in LOCK_STATES:
        raise OpError(f"lock must be one of {LOCK_STATES}")
    r = state["network"]["rssi"]
    if not (isinstance(r, int) and (0 <= r <= 31 or r == 99)):
        raise OpError("rssi must be 0..31 or 99")


def op_deliver(state: dict, req: dict, default_storage: str | None = None) -> dict:
    """Store an incoming SMS (one or more SMS-DELIVER PDUs) and queue the
    +CMTI notification(s)."""
    storage = req.get("storage") or default_storage or state["modem"]["cpms"][2]
    if storage not in ("SM", "ME"):
        raise OpError("storage must be SM or ME")
    smsc = req.get("smsc", state.get("smsc"))
    if "pdu" in req or "pdus" in req:
        raw = req.get("pdus") or [req["pdu"]]
        pdus = [smspdu.parse_hex(p) for p in raw]
        for p in pdus:
            smspdu.decode_pdu(p)  # validate
    else:
        if "text" not in req or "from" not in req:
            raise OpError("deliver needs 'from' and 'text' (or 'pdu')")
        ts = parse_timestamp(req.get("timestamp"))
        enc = req.get("encoding", "auto")
        if enc not in ("auto", "gsm7", "ucs2"):
            raise OpError("encoding must be auto, gsm7 or ucs2")
        ref = req.get("ref")
        if ref is None:
            ref = state["counters"]["concat_ref"]
            state["counters"]["concat_ref"] = (ref % 255) + 1
        toa = req.get("toa")
        if isinstance(toa, str):
            toa = {"international": 0x91, "national": 0xA1, "unknown": 0x81,
                   "alphanumeric": 0xD0}.get(toa, None) if not toa.isdigit() else int(toa)
        pdus = smspdu.encode_deliver_parts(
            req["from"], req["text"], ts, encoding=enc, smsc=smsc, ref=int(ref),
            ref_bits=int(req.get("ref_bits", 8)), parts=req.get("parts", "auto"),
            sender_toa=toa)
    order = req.get("order") or list(range(1, len(pdus) + 1))
    for n in order:
        if not (1 <= int(n) <= len(pdus)):
            raise OpError(f"order: part {n} out of 1..{len(pdus)}")
    stored = []
    for n in order:
        pdu_hex = pdus[int(n) - 1].hex().upper()
        idx = store_pdu(state, storage, pdu_hex, "REC UNREAD")
        if idx is None:
            state["network_queue"].append({"storage": storage, "pdu": pdu_hex})
            stored.append({"part": int(n), "index": None, "queued": True})
            continue
        if req.get("notify", True):
            queue_notification(state, "sms", storage=storage, index=idx)
        stored.append({"part": int(n), "index": idx, "pdu": pdu_hex})
    add_event(state, "deliver", storage=storage, parts=len(pdus),
              stored=[s["index"] for s in stored])
    return {"storage": storage, "parts": len(pdus), "stored": stored,
            "pdus": [p.hex().upper() for p in pdus]}


FAULT_KINDS = ("hang", "garbage", "slow", "vanish", "reset_on_timeout",
               "send_error", "drop_cmti", "vanish_on")


def op_fault(state: dict, req: dict) -> dict:
    kind = req.get("kind")
    if kind in (None, "none", "clear"):
        state["faults"] = {}
        state["absent_until"] = None
        return {"faults": {}}
    if kind not in FAULT_KINDS:
        raise OpError(f"fault kind must be one of {FAULT_KINDS}")
    f = {k: v for k, v in req.items() if k not in ("op", "kind")}
    f.setdefault("since", time.time())
    if kind == "slow":
        f.setdefault("ms", 2000)
    if kind == "reset_on_timeout":
        f.setdefault("ms", 3000)
        f.setdefault("count", 1)
    if kind == "send_error":
        f.setdefault("code", 500)
    if kind == "vanish_on":
        f.setdefault("ms", 3000)
    if kind == "vanish":
        # Offline (no emulator to close a pty): the device is just absent.
        ms = f.get("ms")
        state["absent_until"] = (time.time() + ms / 1000.0) if ms else "forever"
    state["faults"][kind] = f
    return {"faults": state["faults"]}


def apply_op(state: dict, req: dict, default_storage: str | None = None) -> dict:
    """Run one control operation on the state. Returns the JSON answer body
    (without "ok"). Operations needing a live emulator (vanish of a pty,
    appear) are completed by the emulator itself."""
    op = req.get("op")
    if op == "ping":
        return {"pong": True}
    if op == "state":
        return {"state": state}
    if op == "deliver":
        return op_deliver(state, req, default_storage)
    if op == "set":
        changes = {k: v for k, v in req.items() if k != "op"}
        if "path" in changes:
            _set_path(state, changes.pop("path"), changes.pop("value"))
        for k, v in changes.items():
            _set_path(state, SET_ALIASES.get(k, k), v)
        _validate(state)
        if "pin_attempts" in changes and state["sim"]["pin_attempts"] <= 0 \
                and state["sim"]["lock"] in ("SIM PIN", "READY"):
            state["sim"]["lock"] = "SIM PUK"
        return {"network": state["network"], "sim": state["sim"]}
    if op == "fault":
        return op_fault(state, req)
    if op == "clear":
        state["faults"] = {}
        state["absent_until"] = None
        return {"faults": {}}
    if op == "sent":
        return {"sent": state["sent"], "messages": group_sent(state["sent"]),
                "failures": state["send_failures"]}
    if op == "clear_sent":
        state["sent"] = []
        state["send_failures"] = []
        return {}
    if op == "messages":
        mems = [req["storage"]] if req.get("storage") else ["SM", "ME", "SR"]
        return {"messages": [m for mem in mems for m in decode_stored(state, mem)]}
    if op == "clear_storage":
        for mem in ([req["storage"]] if req.get("storage") else ["SM", "ME", "SR"]):
            state["storage"][mem]["messages"] = {}
        flush_network_queue(state)
        return {}
    if op in ("power_cycle", "reset"):
        power_cycle(state, reason=req.get("reason", op))
        if op == "power_cycle":
            state["faults"] = {}
            state["absent_until"] = None
        flush_network_queue(state)
        return {"sim": state["sim"]}
    if op == "unsupported":
        return {"unsupported": state["unsupported"]}
    if op == "events":
        return {"events": state["events"]}
    if op == "init":
        fresh = default_state()
        for k, v in (req.get("overrides") or {}).items():
            _set_path(fresh, SET_ALIASES.get(k, k), v)
        state.clear()
        state.update(fresh)
        _validate(state)
        return {}
    raise OpError(f"unknown op {op!r}")
