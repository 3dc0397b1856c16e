#!/usr/bin/env python3
"""The modem benchmark of scripts/bench: SMS command round trip and idle
footprint of `vigie run` against the AT modem emulator, and the same for
gammu-smsd (the anchor) when it is installed.

Standard library only. Run through scripts/bench, which builds vigie in
release mode and passes the paths; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

ADMIN = "+33612345678"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"
PIN = "1234"
POLL = 0.02  # how often the emulator's sent log is looked at (seconds)

# Filled by main(): the emulator's own state module (modemstate.Store, group_sent).
modemstate = None


class BenchError(Exception):
    """A benchmark step failed; the message says which and why."""


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------

class Daemon:
    """A daemon started in a session of its own, so that it and everything
    it forks (libgammu's proxyat emulator, RunOnReceive scripts) can be
    ended by process group. Its pgid is written to `pid_file` so that
    scripts/bench's trap can end it even if this driver dies."""

    def __init__(self, name: str, argv: list[str], log_path: str, pid_file: str, env: dict | None = None):
        self.name = name
        self.log_path = log_path
        log = open(log_path, "ab")
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True)
        log.close()
        self.pid = self.process.pid
        self.pid_file = pid_file
        with open(pid_file, "a", encoding="utf-8") as f:
            f.write(f"{self.pid}\n")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, signals=(signal.SIGTERM,), grace: float = 10.0) -> None:
        """Asks the daemon to stop with each of `signals` in turn (waiting
        `grace` seconds after each), then kills what is left of its group."""
        for sig in signals:
            if not self.running():
                break
            with _suppress_missing():
                os.kill(self.pid, sig)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        with _suppress_missing():
            os.killpg(self.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return  # left in the pid file for scripts/bench's trap
        with open(self.pid_file, encoding="utf-8") as f:
            others = [line for line in f if line.strip() != str(self.pid)]
        with open(self.pid_file, "w", encoding="utf-8") as f:
            f.writelines(others)

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class _suppress_missing:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is not None and issubclass(kind, (ProcessLookupError, PermissionError))


def proc_sample(pid: int) -> dict:
    """CPU time (utime+stime), memory, threads and open fds of `pid`, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    status = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    return {
        "time": time.monotonic(),
        # fields[0] is field 3 (state): utime is field 14, stime field 15.
        "cpu": (int(fields[11]) + int(fields[12])) / ticks,
        "rss_kb": int(status["VmRSS"].split()[0]),
        "hwm_kb": int(status["VmHWM"].split()[0]),
        "anon_kb": int(status["RssAnon"].split()[0]),
        "file_kb": int(status["RssFile"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


# --------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------

class Emulator:
    """Tests/Emulators/atmodem on a state file of its own. Deliveries go
    through `atmodem.py ctl --state`, as a test would; the sent log is read
    from the state file in-process (cheap enough to poll every 20 ms)."""

    def __init__(self, directory: str, script: str, python: str):
        self.directory = directory
        self.script = script
        self.python = python
        self.state = os.path.join(directory, "modem.json")
        self.at_log = os.path.join(directory, "at.log")
        os.makedirs(directory, exist_ok=True)
        self.ctl_raw("init")
        self.store = modemstate.Store(self.state)
        self.last_timestamp = 0

    def ctl_raw(self, op: str, *params: str) -> dict:
        command = "init" if op == "init" else "ctl"
        argv = [self.python, self.script, command, "--state", self.state] + ([] if op == "init" else [op]) + list(params)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        try:
            answer = json.loads(result.stdout)
        except json.JSONDecodeError:
            answer = {}
        if result.returncode != 0 or not answer.get("ok"):
            raise BenchError(f"emulator {op} failed: {result.stdout.strip()} {result.stderr.strip()}")
        return answer

    def device_command(self) -> str:
        """What libgammu runs for `connection = proxyat`."""
        return " ".join(shlex.quote(word) for word in
                        [self.python, self.script, "--state", self.state, "--log", self.at_log])

    def deliver(self, sender: str, text: str) -> None:
        # The same (sender, SMSC timestamp, text) is one message for vigie:
        # give every delivery its own second.
        now = int(time.time())
        stamp = max(now, self.last_timestamp + 1)
        self.last_timestamp = stamp
        iso = dt.datetime.fromtimestamp(stamp).astimezone().isoformat()
        self.ctl_raw("deliver", f"from={sender}", f"text={text}", f"timestamp={iso}")

    def sent_parts(self) -> int:
        """How many parts the modem's sent log holds."""
        return len(self.store.read().get("sent", []))

    def reply_after(self, first_part: int) -> dict | None:
        """The first complete message among the parts sent from index
        `first_part` on, or None. Only new parts are grouped: concatenation
        references are 8-bit, so over hundreds of replies they repeat."""
        parts = self.store.read().get("sent", [])[first_part:]
        messages = modemstate.group_sent(parts)
        return messages[0] if messages and messages[0]["complete"] else None

    def cnmi_settings(self) -> list[str]:
        """The AT+CNMI=... settings the host sent (not the =? query)."""
        try:
            with open(self.at_log, encoding="utf-8", errors="replace") as f:
                return sorted({m.group(1) for m in re.finditer(r"> AT\+CNMI=([0-9,]+)", f.read())})
        except OSError:
            return []


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def round_trip(emulator: Emulator, daemon: Daemon, timeout: float) -> tuple[float, float, dict]:
    """Delivers one STATUS and waits for the reply in the sent log. Returns
    (seconds from the deliver call returning to the reply being there,
    wall-clock time of that start, the reply)."""
    before = emulator.sent_parts()
    emulator.deliver(ADMIN, "STATUS")
    start, wall = time.monotonic(), time.time()
    deadline = start + timeout
    while True:
        reply = emulator.reply_after(before)
        if reply is not None:
            elapsed = time.monotonic() - start
            if reply["number"] != ADMIN:
                raise BenchError(f"{daemon.name} answered {reply['number']}, not {ADMIN}: {reply['text']!r}")
            return elapsed, wall, reply
        if not daemon.running():
            raise BenchError(f"{daemon.name} exited during the round trips:\n{daemon.log_tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"no reply from {daemon.name} within {timeout:.0f} s:\n{daemon.log_tail()}")
        time.sleep(POLL)


def round_trips(emulator: Emulator, daemon: Daemon, count: int, budget: float) -> dict:
    """`count` commands one after the other (one warm-up command first, not
    counted). Stops early, and says so, when `budget` seconds are spent."""
    round_trip(emulator, daemon, timeout=90)
    times, starts, parts, lengths = [], [], [], []
    reply = None
    began = time.monotonic()
    load_before = loadavg()
    for index in range(count):
        elapsed, wall, reply = round_trip(emulator, daemon, timeout=60)
        times.append(elapsed)
        starts.append(wall)
        parts.append(reply["parts"])
        lengths.append(len(reply["text"]))
        if (index + 1) % 25 == 0:
            print(f"    {index + 1}/{count} commands, median so far {statistics.median(times):.2f} s", flush=True)
        if time.monotonic() - began > budget and index + 1 < count:
            print(f"    time budget of {budget:.0f} s spent: stopping after {index + 1} commands", flush=True)
            break
    return {"times": times, "starts": starts, "total": time.monotonic() - began, "sample": reply["text"],
            "load": (load_before, loadavg()), "asked": count,
            "parts": parts, "lengths": lengths}


def idle(daemon: Daemon, seconds: float) -> dict:
    """CPU time, memory, threads and fds of the daemon over `seconds` of idleness."""
    time.sleep(3)  # let the last reply's bookkeeping finish
    load_before = loadavg()
    first = proc_sample(daemon.pid)
    time.sleep(seconds)
    if not daemon.running():
        raise BenchError(f"{daemon.name} exited while idle:\n{daemon.log_tail()}")
    last = proc_sample(daemon.pid)
    elapsed = last["time"] - first["time"]
    cpu = last["cpu"] - first["cpu"]
    return {"first": first, "last": last, "elapsed": elapsed, "cpu_per_minute": cpu * 60 / elapsed,
            "cpu_percent": cpu / elapsed * 100, "load": (load_before, loadavg())}


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z \S+\s+\S+: (.*)$")


def vigie_phases(log_path: str, result: dict) -> dict | None:
    """Where vigie's round trips go, from its log: delivered -> stored and
    deleted from the modem ("SMS received"), stored -> command run (the SMS
    gateway), command run -> reply in the modem's sent log. Medians in
    seconds; None when the log does not say."""
    events = []
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            match = LOG_LINE.match(line)
            if not match:
                continue
            when = dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=dt.timezone.utc).timestamp()
            text = match.group(2)
            if text.startswith("SMS received"):
                events.append((when, "received"))
            elif text.startswith("command command=STATUS"):
                events.append((when, "command"))
    names = ("modem poll reads it", "stored -> command run", "command -> reply sent")
    phases = {name: [] for name in names}
    for start, elapsed in zip(result["starts"], result["times"]):
        end = start + elapsed
        received = next((when for when, kind in events if kind == "received" and when >= start - 0.002), None)
        if received is None or received > end:
            continue
        command = next((when for when, kind in events if kind == "command" and when >= received), None)
        if command is None or command > end:
            continue
        phases[names[0]].append(received - start)
        phases[names[1]].append(command - received)
        phases[names[2]].append(end - command)
    if not phases[names[0]]:
        return None
    return {name: statistics.median(values) for name, values in phases.items()} | {"matched": len(phases[names[0]])}


# --------------------------------------------------------------------------
# The two daemons
# --------------------------------------------------------------------------

def daemon_env() -> dict:
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    env.pop("JOURNAL_STREAM", None)
    env["SHELL"] = "/bin/sh"  # libgammu's proxyat runs $SHELL -c "exec <device>"
    env.setdefault("LC_ALL", "C.UTF-8")
    return env


def write_secret(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def start_vigie(args, directory: str, emulator: Emulator) -> tuple[Daemon, str]:
    pin_file = os.path.join(directory, "pin")
    totp_file = os.path.join(directory, "totp")
    write_secret(pin_file, PIN)
    write_secret(totp_file, TOTP_SECRET)
    socket = os.path.join(directory, "run", "control.sock")
    config = os.path.join(directory, "vigie.toml")
    disabled = "\n".join(f"[{name}]\nenabled = false\n" for name in
                         ("filedrop", "drive", "watchdog", "irc", "xmpp", "alerts", "leds", "status"))
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"""# Written by scripts/bench modem (throwaway).
[daemon]
name = "bench"
state_dir = {json.dumps(os.path.join(directory, "state"))}
runtime_dir = {json.dumps(os.path.join(directory, "run"))}

[modem]
enabled = true
connection = "proxyat"
device = {json.dumps(emulator.device_command())}
pin_file = {json.dumps(pin_file)}
poll_interval = "60s"
sms_poll_interval = "1s"

[sms]
enabled = true
totp_secret_file = {json.dumps(totp_file)}
default_country_code = "33"
max_reply_parts = 3
daily_budget = 10000

[[sms.allow]]
number = "{ADMIN}"
level = "admin"

{disabled}""")
    daemon = Daemon("vigie", [args.vigie, "run", "--config", config], os.path.join(directory, "vigie.log"),
                    args.pid_file, env=daemon_env())
    deadline = time.monotonic() + 90
    while True:
        if not daemon.running():
            raise BenchError(f"vigie exited at startup:\n{daemon.log_tail()}")
        answer = subprocess.run([args.vigie, "modem", "--json", "--socket", socket], capture_output=True, text=True)
        try:
            if json.loads(answer.stdout).get("phase") == "ready":
                return daemon, config
        except json.JSONDecodeError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"vigie's modem was not ready within 90 s:\n{daemon.log_tail()}")
        time.sleep(0.2)


REPLY_SCRIPT = r"""#!/bin/sh
# RunOnReceive: how a gammu-smsd user answers a command. STATUS from the
# admin number gets a status line through the outbox spool, padded with
# spaces to {length} characters: the length of vigie's replies in this run,
# so that both daemons send as many SMS parts per reply.
[ "$SMS_1_NUMBER" = "{admin}" ] || exit 0
case "$SMS_1_TEXT" in [Ss][Tt][Aa][Tt][Uu][Ss]) ;; *) exit 0 ;; esac
status="$(hostname) up $(cut -d. -f1 /proc/uptime)s, gammu-smsd; load $(cut -d' ' -f1-3 /proc/loadavg); \
IP $(hostname -I 2>/dev/null | sed 's/ *$//'); disk $(df -h / | awk 'NR==2{{print $4 " free of " $2}}'); ok: smsd"
tmp="{outbox}/.reply.$$"
printf '%-{length}.{length}s' "$status" >"$tmp"
mv "$tmp" "{outbox}/OUTA_${{SMS_1_NUMBER}}_$$.txt"
"""


def start_gammu_smsd(args, directory: str, emulator: Emulator, reply_length: int) -> Daemon:
    spool = {name: os.path.join(directory, name) for name in ("inbox", "outbox", "sent", "error")}
    for path in spool.values():
        os.makedirs(path, exist_ok=True)
    script = os.path.join(directory, "reply.sh")
    with open(script, "w", encoding="utf-8") as f:
        f.write(REPLY_SCRIPT.format(admin=ADMIN, outbox=spool["outbox"], length=reply_length))
    os.chmod(script, 0o755)
    config = os.path.join(directory, "smsdrc")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"""# Written by scripts/bench modem (throwaway).
[gammu]
connection = proxyat
device = {emulator.device_command()}

[smsd]
service = files
PIN = {PIN}
LogFile = {os.path.join(directory, "smsd.log")}
InboxPath = {spool["inbox"]}/
OutboxPath = {spool["outbox"]}/
SentSMSPath = {spool["sent"]}/
ErrorSMSPath = {spool["error"]}/
RunOnReceive = {script}
# Polling comparable to vigie's: stored SMS and the outbox every second,
# signal and network every minute (vigie: sms_poll_interval 1s, poll_interval 60s).
ReceiveFrequency = 1
CommTimeout = 1
LoopSleep = 1
StatusFrequency = 60
""")
    return Daemon("gammu-smsd", [args.gammu_smsd, "--config", config],
                  os.path.join(directory, "gammu-smsd.out"), args.pid_file, env=daemon_env())


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def print_round_trips(name: str, result: dict) -> None:
    times = result["times"]
    done = len(times)
    note = "" if done == result["asked"] else f" (asked for {result['asked']}; stopped by the time budget)"
    print(f"  {name}: {done} STATUS commands{note}, one at a time, total {result['total']:.1f} s")
    print(f"    round trip: median {statistics.median(times):.3f} s  p90 {percentile(times, 90):.3f} s  "
          f"p99 {percentile(times, 99):.3f} s  min {min(times):.3f} s  max {max(times):.3f} s")
    print(f"    load average before/after: {result['load'][0]} / {result['load'][1]}")
    for size in sorted(set(result["parts"])):
        subset = [t for t, n in zip(times, result["parts"]) if n == size]
        print(f"    {len(subset)} replies of {size} part{'s' if size > 1 else ''}: median {statistics.median(subset):.3f} s")
    print(f"    last reply ({len(result['sample'])} chars): {result['sample'].rstrip()!r}")


def print_idle(name: str, result: dict) -> None:
    first, last = result["first"], result["last"]
    print(f"  {name}: {result['elapsed']:.1f} s idle with the modem attached")
    print(f"    CPU {result['cpu_per_minute']:.3f} s per minute = {result['cpu_percent']:.2f} % of one core")
    print(f"    RSS {last['rss_kb'] / 1024:.1f} MiB (start {first['rss_kb'] / 1024:.1f} MiB; at the end "
          f"{last['anon_kb'] / 1024:.1f} MiB anonymous, {last['file_kb'] / 1024:.1f} MiB file-backed: "
          f"code and libraries), peak RSS {last['hwm_kb'] / 1024:.1f} MiB")
    print(f"    threads {first['threads']} -> {last['threads']}, open fds {first['fds']} -> {last['fds']}"
          + ("" if (first["threads"], first["fds"]) == (last["threads"], last["fds"]) else "  (GREW)"))
    print(f"    load average before/after: {result['load'][0]} / {result['load'][1]}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a (anchor measured 0)"


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_arguments(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vigie", required=True, help="the vigie binary (release build)")
    parser.add_argument("--emulator", required=True, help="Tests/Emulators/atmodem/atmodem.py")
    parser.add_argument("--python", default="/usr/bin/python3", help="python for the emulator")
    parser.add_argument("--workdir", required=True, help="empty temporary directory (removed by the caller)")
    parser.add_argument("--pid-file", required=True, help="daemon process groups are appended here")
    parser.add_argument("--commands", type=int, default=200, help="vigie round trips (default 200)")
    parser.add_argument("--anchor-commands", type=int, default=50, help="gammu-smsd round trips (default 50)")
    parser.add_argument("--idle", type=float, default=60, help="idle measurement, seconds (default 60)")
    parser.add_argument("--budget", type=float, default=660, help="most seconds spent on vigie's round trips")
    parser.add_argument("--gammu-smsd", default=shutil.which("gammu-smsd"), help="the gammu-smsd binary")
    parser.add_argument("--anchor-unavailable", default="", help="why gammu-smsd could not be installed")
    return parser.parse_args(argv)


def on_signal(number, frame):
    raise KeyboardInterrupt(f"signal {number}")


def measure_vigie(args) -> dict:
    directory = os.path.join(args.workdir, "vigie")
    emulator = Emulator(os.path.join(directory, "emulator"), args.emulator, args.python)
    print(f"== vigie ({args.vigie})", flush=True)
    daemon, _ = start_vigie(args, directory, emulator)
    try:
        print(f"  modem ready; {args.commands} STATUS round trips (sms_poll_interval = 1s)", flush=True)
        trips = round_trips(emulator, daemon, args.commands, args.budget)
        print(f"  idle for {args.idle:.0f} s", flush=True)
        rest = idle(daemon, args.idle)
    finally:
        daemon.stop(signals=(signal.SIGTERM,), grace=10)
    return {"trips": trips, "idle": rest, "cnmi": emulator.cnmi_settings(),
            "phases": vigie_phases(daemon.log_path, trips)}


def measure_gammu_smsd(args, reply_length: int) -> dict:
    directory = os.path.join(args.workdir, "gammu-smsd")
    emulator = Emulator(os.path.join(directory, "emulator"), args.emulator, args.python)
    print(f"== gammu-smsd ({args.gammu_smsd}), the anchor", flush=True)
    daemon = start_gammu_smsd(args, directory, emulator, reply_length)
    try:
        print(f"  started; {args.anchor_commands} STATUS round trips (first one is a warm-up that waits "
              "for the PIN and the connection)", flush=True)
        trips = round_trips(emulator, daemon, args.anchor_commands, budget=args.budget)
        print(f"  idle for {args.idle:.0f} s", flush=True)
        rest = idle(daemon, args.idle)
    except BenchError as error:
        log = os.path.join(directory, "smsd.log")
        tail = open(log, encoding="utf-8", errors="replace").read()[-3000:] if os.path.exists(log) else ""
        raise BenchError(f"{error}\ngammu-smsd's log:\n{tail}") from None
    finally:
        # gammu-smsd documents SIGTERM and SIGINT as graceful shutdown.
        daemon.stop(signals=(signal.SIGTERM, signal.SIGINT), grace=5)
    return {"trips": trips, "idle": rest, "cnmi": emulator.cnmi_settings()}


def report(vigie: dict, anchor: dict | None, why_no_anchor: str) -> None:
    print()
    print("== results")
    print_round_trips("vigie", vigie["trips"])
    phases = vigie["phases"]
    if phases:
        print(f"    where vigie's time goes (medians over {phases['matched']} commands, from its log):")
        for name, value in phases.items():
            if name != "matched":
                print(f"      {name:28s} {value:.3f} s")
    if anchor:
        print_round_trips("gammu-smsd", anchor["trips"])
    print()
    print_idle("vigie", vigie["idle"])
    if anchor:
        print_idle("gammu-smsd", anchor["idle"])
    print()
    print("  new-message notifications (+CMTI), from the emulator's AT transcript:")
    for name, result in (("vigie", vigie), ("gammu-smsd", anchor)):
        if result is None:
            continue
        settings = result["cnmi"]
        print(f"    {name:10s} " + (f"enabled (AT+CNMI={', '.join(settings)})" if settings else
                                   "never set (no AT+CNMI=...): new SMS are found only by polling"))
    if not vigie["cnmi"]:
        print("    So vigie sees a new SMS only at its next sms_poll_interval (1 s). Its round trip is")
        print("    three waits, not work: that poll, the SMS gateway's 1 s database poll, and the modem")
        print("    loop's next turn (it sleeps 1 s between turns) before libgammu sends the reply.")
    print()
    if anchor:
        v, a = vigie, anchor
        print("== ratios vigie / gammu-smsd (below 1: vigie is faster or smaller)")
        print(f"  round trip, median      {ratio(statistics.median(v['trips']['times']), statistics.median(a['trips']['times']))}")
        print(f"  idle CPU per minute     {ratio(v['idle']['cpu_per_minute'], a['idle']['cpu_per_minute'])}")
        print(f"  RSS after idle          {ratio(v['idle']['last']['rss_kb'], a['idle']['last']['rss_kb'])}")
        print(f"  peak RSS                {ratio(v['idle']['last']['hwm_kb'], a['idle']['last']['hwm_kb'])}")
    else:
        print(f"== no ratios: gammu-smsd (the anchor) was not measured: {why_no_anchor}")


def main(argv: list[str]) -> int:
    global modemstate
    args = parse_arguments(argv)
    sys.dont_write_bytecode = True  # nothing written next to the emulator
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.emulator)))
    import modemstate as emulator_state  # the emulator's own state-file module
    modemstate = emulator_state
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    print(f"machine: {os.cpu_count()} cores {platform.machine()}, {cpu_model()}, Linux {platform.release()}; "
          f"load average {loadavg()}; {dt.datetime.now().astimezone().isoformat(timespec='seconds')}")
    started = time.monotonic()
    try:
        vigie = measure_vigie(args)
        anchor, why = None, ""
        if args.anchor_unavailable:
            why = args.anchor_unavailable
        elif not args.gammu_smsd:
            why = "gammu-smsd is not installed (Debian package gammu-smsd)"
        else:
            try:
                anchor = measure_gammu_smsd(args, round(statistics.median(vigie["trips"]["lengths"])))
            except BenchError as error:
                why = f"gammu-smsd failed: {error}"
        report(vigie, anchor, why)
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interruption:
        print(f"interrupted ({interruption}); daemons stopped", file=sys.stderr)
        return 130
    print(f"\n(benchmark took {time.monotonic() - started:.0f} s)")
    return 0 if anchor or args.anchor_unavailable or not args.gammu_smsd else 1


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
