#!/usr/bin/python3
"""Unplug and replug a fake Huawei E1750 under umockdev, and check that
Vigie's real libudev code follows it to its new ttyUSB numbers.

Usage: modem_hotplug.py HELPER [--scenario auto|by-id|all]

HELPER is the built `vigie-test-helper`; its `udev-watch` subcommand runs
ModemLocator (udev enumeration + udev monitor) and prints JSON lines.

How it works. umockdev (Debian packages umockdev, gir1.2-umockdev-1.0,
python3-gi) fakes /sys, /dev and the udev netlink socket for processes that
run with libumockdev-preload.so in LD_PRELOAD and UMOCKDEV_DIR naming a
testbed directory. This script creates the testbed (it must run under the
preload itself: it re-executes itself so if needed), adds the modem (a USB
device, three option-driven interfaces, a tty per interface with the udev
properties udevd's 60-serial.rules would give it), starts HELPER under the
same preload, then:
  1. expects the initial choice /dev/ttyUSB2 (the E1750's PCUI, interface 02);
  2. sends "remove" uevents for the three ttys and deletes the device:
     expects "gone";
  3. adds the modem again as ttyUSB3..5 (the old numbers are still held, as
     when a process keeps the old nodes open), one port every 50 ms, with
     "add" uevents: expects "appeared" at /dev/ttyUSB5, and no other choice
     in between (the locator waits for the ports to settle);
  4. closes HELPER's stdin: expects it to stop within a second.
Scenario "by-id" does the same with [modem] device set to the modem's
/dev/serial/by-id link, which the script moves to the new tty on replug as
udevd would.

Prints one JSON summary line per scenario ({"scenario", "ok", "events",
"problems"}) and exits 0 when every scenario passed, 1 otherwise, 77 when
umockdev is not usable here (the caller skips).
"""

import json
import os
import select
import subprocess
import sys
import time

PRELOAD = "libumockdev-preload.so.0"
SKIP = 77

VENDOR, PRODUCT = "12d1", "1001"
BY_ID = "/dev/serial/by-id/usb-HUAWEI_Technology_HUAWEI_Mobile-if{:02d}-port0"


def reexec_under_preload():
    """The testbed's own checks (parent devices, uevent sources) look at
    /sys through the preload: run this script under it."""
    if PRELOAD in os.environ.get("LD_PRELOAD", ""):
        return
    env = dict(os.environ)
    env["LD_PRELOAD"] = (PRELOAD + " " + env.get("LD_PRELOAD", "")).strip()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def load_umockdev():
    try:
        import gi

        gi.require_version("UMockdev", "1.0")
        from gi.repository import UMockdev

        return UMockdev
    except (ImportError, ValueError) as error:
        print(json.dumps({"skip": f"umockdev is not usable: {error}"}))
        sys.exit(SKIP)


class FakeE1750:
    """A Huawei E1750 in modem mode (12d1:1001): interface 00 is the modem
    (PPP) port, 01 the diagnostics port, 02 the PCUI (AT) port; all three are
    driven by `option` and show up as ttyUSB devices."""

    def __init__(self, testbed, root, bus_path="usb1/1-1", first_tty=0):
        self.testbed = testbed
        self.root = root
        self.ttys = []
        usb_name = bus_path.split("/")[-1]
        self.usb = testbed.add_device(
            "usb",
            bus_path,
            None,
            [
                "idVendor", VENDOR, "idProduct", PRODUCT, "bNumInterfaces", " 4",
                "manufacturer", "HUAWEI Technology", "product", "HUAWEI Mobile",
                "busnum", "1", "devnum", "7", "authorized", "1",
            ],
            [
                "DEVTYPE", "usb_device", "DEVNAME", "/dev/bus/usb/001/007",
                "ID_VENDOR_ID", VENDOR, "ID_MODEL_ID", PRODUCT,
                "ID_VENDOR", "HUAWEI_Technology", "ID_MODEL", "HUAWEI_Mobile",
                "ID_USB_INTERFACES", ":ffffff:080650:", "ID_MM_DEVICE_IGNORE", "1",
            ],
        )
        self.interfaces = []
        self.usb_name = usb_name
        self.first_tty = first_tty

    def add_ports(self, delay=0.0):
        """Adds the interfaces and their ttys; umockdev sends an "add"
        uevent for each device it adds."""
        for number in range(3):
            tty_index = self.first_tty + number
            interface = self.testbed.add_device(
                "usb",
                f"{self.usb_name}:1.{number}",
                self.usb,
                [
                    "bInterfaceNumber", f"{number:02x}", "bInterfaceClass", "ff",
                    "bInterfaceSubClass", "ff", "bInterfaceProtocol", "ff",
                ],
                ["DEVTYPE", "usb_interface", "DRIVER", "option"],
            )
            self.interfaces.append(interface)
            devnode = f"/dev/ttyUSB{tty_index}"
            # As on a real system, the node (devtmpfs) and the by-id link
            # (udevd) exist before udevd announces the device.
            self.node(f"ttyUSB{tty_index}", create=True)
            self.link(number, f"ttyUSB{tty_index}")
            tty = self.testbed.add_device(
                "tty",
                f"ttyUSB{tty_index}",
                interface,
                ["dev", f"188:{tty_index}"],
                [
                    "DEVNAME", devnode, "MAJOR", "188", "MINOR", str(tty_index),
                    "ID_BUS", "usb", "ID_VENDOR_ID", VENDOR, "ID_MODEL_ID", PRODUCT,
                    "ID_VENDOR", "HUAWEI_Technology", "ID_MODEL", "HUAWEI_Mobile",
                    "ID_SERIAL", "HUAWEI_Technology_HUAWEI_Mobile",
                    "ID_USB_INTERFACES", ":ffffff:080650:",
                    "ID_USB_INTERFACE_NUM", f"{number:02x}", "ID_USB_DRIVER", "option",
                    "ID_PATH", f"platform-3f980000.usb-usb-0:1:1.{number}",
                    "ID_MM_DEVICE_IGNORE", "1",
                    "DEVLINKS",
                    " ".join([
                        BY_ID.format(number),
                        f"/dev/serial/by-path/platform-3f980000.usb-usb-0:1:1.{number}-port0",
                    ] + (["/dev/vigie-modem"] if number == 2 else [])),
                ],
            )
            self.ttys.append(tty)
            if delay:
                time.sleep(delay)

    def node(self, name, create):
        """The device node as devtmpfs shows it. umockdev redirects a /dev
        path only when the testbed has it, and realpath() of a by-id link
        must end on it; a plain file is enough here (no I/O is done)."""
        path = os.path.join(self.root, "dev", name)
        if create:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").close()
        elif os.path.lexists(path):
            os.unlink(path)

    def link(self, number, tty_name):
        """What udevd does after running 60-serial.rules: the by-id link."""
        path = os.path.join(self.root, BY_ID.format(number).lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(f"../../{tty_name}", path)

    def unplug(self):
        for tty in self.ttys:
            self.testbed.uevent(tty, "remove")
        for number in range(3):
            path = os.path.join(self.root, BY_ID.format(number).lstrip("/"))
            if os.path.lexists(path):
                os.unlink(path)
            self.node(f"ttyUSB{self.first_tty + number}", create=False)
        # Child first, each on its own, so that umockdev also drops each
        # device's /sys/bus link (a replug re-creates them).
        for device in self.ttys + self.interfaces + [self.usb]:
            self.testbed.remove_device(device)
        self.ttys = []
        self.interfaces = []


class Helper:
    def __init__(self, helper, root, device):
        env = dict(os.environ)
        env["UMOCKDEV_DIR"] = root
        self.events = []
        self.stderr_path = os.path.join(root, "helper.stderr")
        self.stderr = open(self.stderr_path, "w")
        self.process = subprocess.Popen(
            [helper, "udev-watch", "--device", device, "--settle-ms", "1000"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
        )
        self.buffer = b""

    def wait_for(self, predicate, timeout=10.0):
        """Reads events until one satisfies `predicate`; returns it or None."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    event = json.loads(line)
                except ValueError:
                    event = {"event": "garbage", "line": line.decode(errors="replace")}
                self.events.append(event)
                if predicate(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buffer += chunk

    def stop(self):
        self.process.stdin.close()
        stopped = self.wait_for(lambda e: e.get("event") == "stopped", timeout=5)
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = None
        self.stderr.close()
        return stopped, code

    def stderr_text(self):
        with open(self.stderr_path) as f:
            return f.read()[-2000:]


def is_change(event):
    return event.get("event") in ("appeared", "gone", "absent")


def run_scenario(UMockdev, helper_path, scenario):
    testbed = UMockdev.Testbed.new()
    root = testbed.get_root_dir()
    problems = []
    # A platform UART, which must never be chosen.
    testbed.add_device("tty", "ttyS0", None, ["dev", "4:64"], ["DEVNAME", "/dev/ttyS0"])
    modem = FakeE1750(testbed, root)
    modem.add_ports()

    device = "auto" if scenario == "auto" else BY_ID.format(2)
    helper = Helper(helper_path, root, device)

    def expect(what, predicate, timeout=10.0):
        event = helper.wait_for(predicate, timeout)
        if event is None:
            problems.append(f"{what}: not seen")
        return event

    first = expect("initial choice", is_change)
    if first is not None and (first.get("event"), first.get("device")) != ("appeared", "/dev/ttyUSB2"):
        problems.append(f"initial choice: expected appeared /dev/ttyUSB2, got {first}")

    modem.unplug()
    gone = expect("gone after unplug", is_change)
    if gone is not None and (gone.get("event"), gone.get("device")) != ("gone", "/dev/ttyUSB2"):
        problems.append(f"after unplug: expected gone /dev/ttyUSB2, got {gone}")

    replugged = FakeE1750(testbed, root, first_tty=3)
    replugged.add_ports(delay=0.05)
    back = expect("appeared after replug", is_change)
    if back is not None and (back.get("event"), back.get("device")) != ("appeared", "/dev/ttyUSB5"):
        problems.append(f"after replug: expected appeared /dev/ttyUSB5, got {back}")
    # Let a late, wrong re-choice show up if there is one.
    helper.wait_for(is_change, timeout=1.0)

    stopped, code = helper.stop()
    if stopped is None:
        problems.append("helper did not report 'stopped' after stdin closed")
    elif stopped.get("ms", 10_000) > 1000:
        problems.append(f"monitors took {stopped['ms']} ms to stop after cancellation")
    if code != 0:
        problems.append(f"helper exit status {code}: {helper.stderr_text()}")

    changes = [
        (e["event"], e.get("device")) for e in helper.events if is_change(e)
    ]
    expected = [("appeared", "/dev/ttyUSB2"), ("gone", "/dev/ttyUSB2"), ("appeared", "/dev/ttyUSB5")]
    if changes != expected:
        problems.append(f"presence changes {changes}, expected {expected}")
    raw = [(e["event"], e.get("devnode") or e.get("port", {}).get("devnode"))
           for e in helper.events if e.get("event") in ("added", "removed")]
    for devnode in ("/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2"):
        if ("removed", devnode) not in raw:
            problems.append(f"raw monitor missed the removal of {devnode}")
    for devnode in ("/dev/ttyUSB3", "/dev/ttyUSB4", "/dev/ttyUSB5"):
        if ("added", devnode) not in raw:
            problems.append(f"raw monitor missed the addition of {devnode}")
    added5 = [e["port"] for e in helper.events
              if e.get("event") == "added" and e["port"].get("devnode") == "/dev/ttyUSB5"]
    if added5:
        port = added5[-1]
        wanted = {"vendor": "12d1", "product": "1001", "interface": "02", "driver": "option",
                  "usbDevice": "/sys/devices/usb1/1-1", "class": "ff/ff/ff"}
        for key, value in wanted.items():
            if port.get(key) != value:
                problems.append(f"ttyUSB5 {key} = {port.get(key)!r}, expected {value!r}")
    summary = {"scenario": scenario, "ok": not problems, "problems": problems,
               "events": helper.events}
    testbed.clear()
    return summary


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    helper = sys.argv[1]
    scenario = "all"
    if "--scenario" in sys.argv:
        scenario = sys.argv[sys.argv.index("--scenario") + 1]
    reexec_under_preload()
    UMockdev = load_umockdev()
    scenarios = ["auto", "by-id"] if scenario == "all" else [scenario]
    ok = True
    for name in scenarios:
        summary = run_scenario(UMockdev, helper, name)
        ok = ok and summary["ok"]
        print(json.dumps(summary), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
