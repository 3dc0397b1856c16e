#!/usr/bin/python3
"""The real `vigie run` follows a modem that vanishes and comes back under
another device name: real libudev against umockdev, real libgammu against
the AT modem emulator, through the device node of the port udev announced.

Usage: modem_hotplug_daemon.py VIGIE ATMODEM WORKDIR

VIGIE is the built `vigie` binary, ATMODEM Tests/Emulators/atmodem/atmodem.py,
WORKDIR an empty directory this script owns (the caller removes it).

How /dev is faked (umockdev 0.17.16, Debian 12). libumockdev-preload
redirects a path under /dev to $UMOCKDEV_DIR/dev/... when that exists there
(else the real /dev is used), and the kernel follows a symlink found there
like any other. umockdev itself backs the tty nodes it creates (those of
devices loaded with add_from_string) with a pty of its own: the node is a
symlink to /dev/pts/N, the testbed keeps the master (get_dev_fd), and the
preload treats a node that links into /dev/ as an emulated character device
(stat() shows the major:minor of $UMOCKDEV_DIR/dev/.node/<name>, 188:n for a
ttyUSB). Devices added with add_device get no node at all. So this script
makes the node the same way, only with the emulator's pty instead of one the
testbed owns: $UMOCKDEV_DIR/dev/ttyUSB2 -> /dev/pts/N, N being the pty the
emulator serves (what its --pty link points to). libgammu opens /dev/ttyUSB2,
the preload turns that into the testbed path, and the kernel lands on the
emulator's pty. Seen with UMOCKDEV_DEBUG=ioctl,path: tcgetattr/tcsetattr
reach the real pty (glibc issues them as raw syscalls, which the preload does
not see); the modem-control ioctls libgammu sends through ioctl() (TIOCEXCL,
TIOCMGET, TIOCMBIS) are answered -1 by the testbed's default ioctl handler
(ioctl/_default, served by the Testbed object in this process, which must
therefore live as long as the daemon), and libgammu goes on without them, as
it does on a pty anyway. A testbed-owned pty bridged to the emulator was not
used: the testbed holds its master open, so when the "modem" vanished the
daemon would see silence instead of the EIO/hang-up of an unplugged ttyUSB.

Steps (the daemon runs under the preload; its CLI, the emulator and its
`ctl` run outside it, so the control sockets are plain paths in WORKDIR):
  1. testbed: a fake Huawei E1750 (12d1:1001) as ttyUSB0..2 (as in
     modem_hotplug.py); the PCUI's node /dev/ttyUSB2 leads to the emulator's
     pty A; `vigie run` with [modem] device = "auto", connection = "at";
  2. `vigie modem --json` says ready on /dev/ttyUSB2; an SMS "STATUS" from
     the allowed number is answered (the emulator's sent log), and the
     daemon records the reply as sent;
  3. unplug: the emulator's pty vanishes and the key loses power (ctl
     power_cycle reenumerate=true link=pty B: the same vanish as `fault
     kind=vanish link=...`, open fds get EIO and the pty comes back as pty B
     after 1.5 s, plus what a replugged stick really does: its SIM asks for
     the PIN again), then the testbed sends "remove" uevents and drops the
     devices and their nodes; the daemon logs "modem gone" and `vigie modem`
     stops saying "ready";
  4. replug once pty B exists: the modem comes back as ttyUSB3..5, the PCUI's
     node /dev/ttyUSB5 leading to pty B ("add" uevents); the daemon logs
     "modem found" for /dev/ttyUSB5, enters the PIN it knows to be right
     again, becomes ready by itself, and answers a second SMS;
  5. SIGTERM as soon as the modem has sent that reply: the daemon records it
     as sent and exits 0 within 5 s (shutdown_timeout is 20 s: a service
     that only stops when that runs out shows).

Prints one JSON line {"ok", "problems", "steps", "devices", "replies",
"found", "daemonLog", "atLog"} and exits 0 when all went as expected, 1 otherwise,
77 when umockdev is not usable here (the caller skips). Every process it
starts is stopped before it exits (and gets SIGKILL if this script dies
first: setpriv --pdeathsig); their pids are listed in WORKDIR/pids.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modem_hotplug import PRELOAD, FakeE1750, load_umockdev  # noqa: E402

ADMIN = "+33612345678"
BUDGET_S = 60.0  # the whole run; each wait gets what is left, at most its own cap


def reexec_under_preload(workdir):
    """As modem_hotplug.py, and with TMPDIR in WORKDIR so that the testbed's
    directory (g_dir_make_tmp) goes away with WORKDIR whatever happens."""
    if PRELOAD in os.environ.get("LD_PRELOAD", ""):
        return
    env = dict(os.environ)
    env["LD_PRELOAD"] = (PRELOAD + " " + env.get("LD_PRELOAD", "")).strip()
    env["TMPDIR"] = workdir
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def plain_env():
    """The environment without the preload: for the emulator (the hardware)
    and the CLI (which must reach the daemon's socket, not a testbed)."""
    env = dict(os.environ)
    for key in ("LD_PRELOAD", "UMOCKDEV_DIR"):
        env.pop(key, None)
    return env


class DaemonExited(BaseException):
    """Ends a wait at once (a plain Exception there means "try again")."""


class ReplugE1750(FakeE1750):
    """modem_hotplug.py's E1750 whose PCUI node leads to a pty (see the
    module docstring); the other ports are plain files, never opened."""

    def __init__(self, testbed, root, at_pty, first_tty=0):
        super().__init__(testbed, root, first_tty=first_tty)
        self.at_name = f"ttyUSB{first_tty + 2}"
        self.at_pty = at_pty

    def node(self, name, create):
        path = os.path.join(self.root, "dev", name)
        if create and name == self.at_name:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(self.at_pty, path)
        else:
            super().node(name, create)


class Run:
    def __init__(self, vigie, atmodem, workdir):
        self.vigie = vigie
        self.atmodem = atmodem
        self.workdir = os.path.abspath(workdir)
        self.start = time.monotonic()
        self.problems = []
        self.steps = []
        self.processes = []
        self.emu_dir = os.path.join(self.workdir, "emulator")
        self.state = os.path.join(self.emu_dir, "modem.json")
        self.emu_sock = os.path.join(self.emu_dir, "modem.sock")
        self.at_log = os.path.join(self.emu_dir, "at.log")
        self.pty_a = os.path.join(self.emu_dir, "pty-a")
        self.pty_b = os.path.join(self.emu_dir, "pty-b")
        self.daemon_dir = os.path.join(self.workdir, "daemon")
        self.socket = os.path.join(self.daemon_dir, "run", "control.sock")
        self.daemon_log = os.path.join(self.daemon_dir, "vigie.log")
        self.daemon = None

    # ------------------------------------------------------------ helpers --

    def step(self, name, **details):
        self.steps.append({"step": name, "t": round(time.monotonic() - self.start, 2), **details})

    def problem(self, text):
        self.problems.append(text)
        self.step("problem", text=text)

    def left(self, cap):
        return max(0.5, min(cap, BUDGET_S - (time.monotonic() - self.start)))

    def wait(self, what, predicate, cap=20.0, interval=0.2):
        """Polls `predicate` until it returns a true value (returned) or the
        time runs out (a problem is recorded, None returned)."""
        deadline = time.monotonic() + self.left(cap)
        while True:
            try:
                value = predicate()
            except Exception as error:  # a CLI or ctl hiccup: try again
                value = None
                last_error = error
            else:
                last_error = None
            if value:
                return value
            if time.monotonic() >= deadline:
                self.problem(f"timed out waiting for {what}" + (f" ({last_error})" if last_error else ""))
                return None
            time.sleep(interval)

    def spawn(self, name, argv, env, **kwargs):
        # SIGKILL for the child if this script dies without cleaning up.
        if shutil.which("setpriv"):
            argv = ["setpriv", "--pdeathsig", "KILL", "--"] + argv
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, **kwargs)
        self.processes.append((name, process))
        with open(os.path.join(self.workdir, "pids"), "a") as f:
            f.write(f"{process.pid} {name}\n")
        return process

    def ctl(self, op, *args):
        out = subprocess.run(
            [sys.executable, self.atmodem, "ctl", "--state", self.state, "--control", self.emu_sock, op, *args],
            env=plain_env(), capture_output=True, text=True, timeout=15)
        answer = json.loads(out.stdout or "{}")
        if not answer.get("ok"):
            raise RuntimeError(f"ctl {op} {args}: {out.stdout} {out.stderr}")
        return answer

    def modem(self):
        out = subprocess.run(
            [self.vigie, "modem", "--socket", self.socket, "--json"],
            env=plain_env(), capture_output=True, text=True, timeout=15)
        return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {}

    def replies(self):
        """Replies the modem has sent in full (every part accepted)."""
        return [m for m in self.ctl("sent").get("messages", [])
                if m.get("number") == ADMIN and m.get("complete")]

    def log_text(self):
        try:
            with open(self.daemon_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_lines(self, *needles):
        return [line for line in self.log_text().splitlines() if all(n in line for n in needles)]

    # -------------------------------------------------------------- parts --

    def start_emulator(self):
        os.makedirs(self.emu_dir)
        init = subprocess.run(
            [sys.executable, self.atmodem, "init", "--state", self.state],
            env=plain_env(), capture_output=True, text=True, timeout=15)
        if init.returncode != 0:
            raise RuntimeError(f"emulator init failed: {init.stderr}")
        self.spawn(
            "atmodem",
            [sys.executable, self.atmodem, "--state", self.state, "--pty", self.pty_a,
             "--control", self.emu_sock, "--log", self.at_log],
            env=plain_env(), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.emu_dir, "stderr"), "w"))
        if not self.wait("the emulator's pty", lambda: os.path.islink(self.pty_a) and os.path.exists(self.emu_sock), cap=10):
            raise RuntimeError("the emulator did not start")
        return os.readlink(self.pty_a)

    def start_daemon(self, root):
        os.makedirs(os.path.join(self.daemon_dir, "run"))
        pin_file = os.path.join(self.daemon_dir, "pin")
        with open(pin_file, "w") as f:
            f.write("1234")
        os.chmod(pin_file, 0o600)
        config = os.path.join(self.daemon_dir, "vigie.toml")
        with open(config, "w") as f:
            f.write(f"""[daemon]
name = "test-site"
state_dir = "{self.daemon_dir}/state"
runtime_dir = "{self.daemon_dir}/run"
# Long, so that a service that only stops when this cancels it shows.
shutdown_timeout = "20s"

[modem]
enabled = true
device = "auto"
connection = "at"
pin_file = "{pin_file}"
poll_interval = "2s"
sms_poll_interval = "1s"
command_timeout = "5s"

[sms]
default_country_code = "33"
[[sms.allow]]
number = "{ADMIN}"
level = "read"
""")
        env = dict(os.environ)
        env["UMOCKDEV_DIR"] = root
        env["LD_PRELOAD"] = PRELOAD  # set: this script runs under it
        for key in ("NOTIFY_SOCKET", "JOURNAL_STREAM"):
            env.pop(key, None)
        log = open(self.daemon_log, "w")
        self.daemon = self.spawn("vigie", [self.vigie, "run", "--config", config], env=env, stdout=log, stderr=log)

    def wait_ready(self, device):
        def ready():
            if self.daemon.poll() is not None:
                raise DaemonExited(f"vigie exited with status {self.daemon.returncode}")
            status = self.modem()
            return status if status.get("phase") == "ready" else None

        try:
            status = self.wait(f"the modem to be ready on {device}", ready, cap=30)
        except DaemonExited as exited:
            self.problem(str(exited))
            return False
        if status is None:
            return False
        self.step("ready", device=status.get("device"), model=status.get("model"))
        if status.get("device") != device:
            self.problem(f"ready on {status.get('device')}, expected {device}")
        return True

    def sms_round_trip(self, count):
        self.ctl("deliver", f"from={ADMIN}", "text=STATUS")
        self.step("sms delivered", number=count)
        replies = self.wait(f"reply {count} to STATUS",
                            lambda: (lambda r: r if len(r) >= count else None)(self.replies()), interval=0.05)
        if replies:
            text = replies[count - 1].get("text", "")
            self.step("reply", number=count, text=text)
            if not text.startswith("test-site: GSM "):
                self.problem(f"reply {count} is not a STATUS reply: {text!r}")

    def stop_daemon(self):
        """SIGTERM: every service should stop by itself (the modem service
        closes its session), well before shutdown_timeout (20 s) cancels
        what is left."""
        if self.daemon is None or self.daemon.poll() is not None:
            return
        sent = time.monotonic()
        self.daemon.send_signal(signal.SIGTERM)
        try:
            code = self.daemon.wait(timeout=25)
        except subprocess.TimeoutExpired:
            self.problem("vigie did not stop within 25 s of SIGTERM")
            return
        took = round(time.monotonic() - sent, 2)
        self.step("daemon stopped", status=code, seconds=took)
        if code != 0:
            self.problem(f"vigie exited with status {code} after SIGTERM")
        if took > 5:
            self.problem(f"vigie took {took} s to stop after SIGTERM: a service waited for shutdown_timeout")

    def cleanup(self):
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    # --------------------------------------------------------------- main --

    def run(self, UMockdev):
        testbed = UMockdev.Testbed.new()
        root = testbed.get_root_dir()
        # A platform UART, which must never be chosen.
        testbed.add_device("tty", "ttyS0", None, ["dev", "4:64"], ["DEVNAME", "/dev/ttyS0"])

        pts_a = self.start_emulator()
        modem = ReplugE1750(testbed, root, pts_a)
        modem.add_ports()
        self.step("plugged", device="/dev/ttyUSB2", pty=pts_a)
        self.start_daemon(root)
        if not self.wait_ready("/dev/ttyUSB2"):
            return
        self.sms_round_trip(1)
        # Unplug once the daemon has recorded the reply as sent (a reply cut
        # off by the unplug would stay claimed, and be sent again later).
        if self.wait("the daemon to record reply 1 as sent", lambda: self.log_lines("SMS sent", ADMIN), cap=10):
            self.step("reply recorded", number=1)

        # Unplug: the tty hangs up first (the emulator's pty vanishes, and
        # comes back as pty B after 1.5 s; the key lost power, so its SIM
        # asks for the PIN again), then udev announces the removal.
        self.ctl("power_cycle", "reenumerate=true", "ms=1500", f"link={self.pty_b}")
        modem.unplug()
        self.step("unplugged")
        if self.wait("the daemon to log 'modem gone'", lambda: self.log_lines("modem gone", "/dev/ttyUSB2"), cap=10):
            self.step("gone logged")
        # `vigie modem` must not go on saying "ready" about a modem udev
        # reported gone.
        status = self.wait("the daemon to stop reporting the modem ready",
                           lambda: (lambda s: s if s.get("phase") not in (None, "ready") else None)(self.modem()),
                           cap=10, interval=0.05)
        if status:
            self.step("not ready", phase=status.get("phase"), lastError=status.get("lastError"))

        if not self.wait("the emulator's pty B", lambda: os.path.islink(self.pty_b), cap=10):
            return
        pts_b = os.readlink(self.pty_b)
        replugged = ReplugE1750(testbed, root, pts_b, first_tty=3)
        replugged.add_ports(delay=0.05)
        self.step("replugged", device="/dev/ttyUSB5", pty=pts_b)
        if self.wait("the daemon to log 'modem found' for /dev/ttyUSB5",
                     lambda: self.log_lines("modem found", "/dev/ttyUSB5"), cap=15):
            self.step("found logged")
        if not self.wait_ready("/dev/ttyUSB5"):
            return
        self.sms_round_trip(2)
        # SIGTERM as soon as the modem has sent the reply: the daemon is
        # still waiting for the network's confirmation, or recording it, and
        # must finish that before it exits (else the reply is sent again
        # after the restart).
        self.stop_daemon()
        if len(self.log_lines("SMS sent", ADMIN)) != 2:
            self.problem("reply 2 was sent by the modem but not recorded as sent before vigie exited")

        pin_entries = [e for e in self.ctl("events").get("events", []) if e.get("event") == "pin_ok"]
        self.step("pin entries", count=len(pin_entries))
        if len(pin_entries) != 2:
            self.problem(f"the PIN was entered {len(pin_entries)} times, expected twice (once per power-on)")

        # The service's own lines ("modem found device=... rule=..."), not
        # the locator's ("modem port chosen: ...").
        found = [logged_device(line) for line in self.log_lines("modem found")]
        if found != ["/dev/ttyUSB2", "/dev/ttyUSB5"]:
            self.problem(f"'modem found' for {found}, expected /dev/ttyUSB2 then /dev/ttyUSB5")
        gone = [logged_device(line) for line in self.log_lines("modem gone")]
        if gone != ["/dev/ttyUSB2"]:
            self.problem(f"'modem gone' for {gone}, expected /dev/ttyUSB2 once")


def logged_device(line):
    match = re.search(r"\bdevice=(\S+)", line)
    return match.group(1) if match else line


def tail(path, size):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-size:]
    except OSError:
        return ""


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    vigie, atmodem, workdir = sys.argv[1:]
    reexec_under_preload(os.path.abspath(workdir))
    UMockdev = load_umockdev()
    # A SIGTERM from the caller still cleans up and reports.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated (SIGTERM)"))
    run = Run(vigie, atmodem, workdir)
    try:
        run.run(UMockdev)
    except (Exception, SystemExit) as error:  # report, then clean up
        run.problem(f"{type(error).__name__}: {error}")
    finally:
        run.cleanup()
    failed = bool(run.problems)
    summary = {
        "ok": not failed,
        "problems": run.problems,
        "steps": run.steps,
        "devices": [step["device"] for step in run.steps if step["step"] == "ready"],
        "replies": [step["text"] for step in run.steps if step["step"] == "reply"],
        "found": [logged_device(line) for line in run.log_lines("modem found")],
        "daemonLog": tail(run.daemon_log, 6000) if failed else "",
        "atLog": tail(run.at_log, 4000) if failed else "",
    }
    print(json.dumps(summary), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
