"""The amd64 image: scripts/build-image with the .deb of the test build, booted
in qemu-system-x86_64 (OVMF, TCG) and checked over SSH with a key.

Run by scripts/test; needs root (the image is built as root in CI, and
chroot-free checks need nothing more) and Debian's mirror. Skips when not
root. The debug binary's Swift runtime goes into the image with
`--swift-runtime` (a release package needs none). apt's downloads are kept in
$VIGIE_CACHE_DIR/image-apt-amd64 between runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from boot_image import BootedImage

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("VIGIE_BINARY") or os.path.join(ROOT, ".build", "debug", "vigie")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the image is built and booted as CI does, as root"),
]


def run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, text=True, capture_output=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def workdir():
    path = tempfile.mkdtemp(prefix="vigie-image-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def key(workdir) -> str:
    path = os.path.join(workdir, "id_ed25519")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path])
    return path


@pytest.fixture(scope="module")
def image(workdir, key) -> str:
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"no vigie binary at {BINARY}: build it first (swift build), or set VIGIE_BINARY")
    deb = run([os.path.join(ROOT, "scripts", "build-deb"), "--binary", BINARY, "--allow-dynamic-swift-runtime",
               "--compression", "gzip", "--output", workdir]).stdout.strip().splitlines()[-1]
    runtime = os.path.join(workdir, "swift-runtime")
    os.makedirs(runtime)
    for line in run(["ldd", BINARY]).stdout.splitlines():
        match = re.match(r"\s*(\S+) => (\S+) ", line)
        if match and "swift" in match.group(2).split("/lib/")[0]:
            shutil.copy(match.group(2), runtime)
    result = run([os.path.join(ROOT, "scripts", "build-image"), "--arch", "amd64", "--deb", deb,
                  "--output", workdir, "--authorized-keys", key + ".pub", "--swift-runtime", runtime,
                  "--no-compress"], timeout=3600)
    path = result.stdout.strip().splitlines()[-1]
    assert path.endswith("-amd64.img") and os.path.isfile(path), result.stdout + result.stderr
    return path


def test_disk_layout(image):
    table = run(["sfdisk", "--dump", image]).stdout
    assert "label: gpt" in table
    assert 'name="VIGIE_EFI"' in table and 'name="VIGIE_ROOT"' in table, table
    assert "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" in table, "the first partition is not an EFI system partition"


@pytest.fixture(scope="module")
def vm(image, key):
    with BootedImage(image, key, timeout=900) as booted:
        yield booted


def test_boots_to_ssh_by_key_only(vm):
    assert vm.ssh("systemctl is-system-running --wait", check=False, timeout=300).stdout.strip() in (
        "running", "degraded")
    assert "Permission denied (publickey)" in vm.password_refused()
    # No host key came with the image: this boot made them.
    assert vm.ssh("test -s /etc/ssh/ssh_host_ed25519_key && systemctl is-active vigie-ssh-host-keys.service",
                  check=False).stdout.strip() in ("active", "inactive")


def test_vigie_runs_under_systemd_as_the_vigie_user(vm):
    assert vm.ssh("systemctl is-active vigie").stdout.strip() == "active"
    status = vm.ssh("vigie status").stdout
    for service in ["store", "control", "modem", "watchdog", "sms"]:
        assert re.search(rf"^{service} +running", status, re.M), status
    pid = vm.ssh("systemctl show -P MainPID vigie").stdout.strip()
    owner = vm.ssh(f"stat -c %U /proc/{pid}").stdout.strip()
    assert owner == "vigie"
    caps = dict(line.split(":\t") for line in vm.ssh(f"grep ^Cap /proc/{pid}/status").stdout.splitlines())
    assert int(caps["CapAmb"], 16) == 1 << 13, caps  # CAP_NET_RAW alone
    assert int(caps["CapEff"], 16) == 1 << 13, caps
    # Type=notify: systemd got READY=1, and the watchdog is armed.
    assert vm.ssh("systemctl show -P WatchdogUSec vigie").stdout.strip() == "30s"
    assert vm.ssh("systemctl show -P NRestarts vigie").stdout.strip() == "0"


def test_system_settings(vm):
    assert "noatime" in vm.ssh("findmnt -n -o OPTIONS /").stdout
    assert "/run/log/journal" in vm.ssh("journalctl --header").stdout, "the journal is not volatile"
    assert vm.ssh("swapon --show").stdout.strip() == ""
    # systemd pets the hardware watchdog (QEMU's i6300esb here).
    assert vm.ssh("systemctl show -P RuntimeWatchdogUSec").stdout.strip() == "15s"
    assert vm.ssh("cat /sys/class/watchdog/watchdog0/state").stdout.strip() == "active"
    # avahi announces the host as vigie.local.
    assert vm.ssh("systemctl is-active avahi-daemon").stdout.strip() == "active"
    assert "vigie" in vm.ssh("hostname").stdout


def test_reboot_command_reboots_through_the_path_unit(vm):
    # What REBOOT runs (daemon.reboot_command), as the vigie user. QEMU runs
    # with -no-reboot: the guest's reboot ends the QEMU process.
    vm.ssh("runuser -u vigie -- sh -c 'touch /run/vigie/reboot-requested'", check=False)
    deadline = time.monotonic() + 300
    while vm.qemu.poll() is None and time.monotonic() < deadline:
        time.sleep(2)
    assert vm.qemu.poll() is not None, "the box did not reboot\n" + vm.console_tail()
