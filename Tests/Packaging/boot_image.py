#!/usr/bin/env python3
"""Boots an amd64 Vigie image in qemu-system-x86_64 (UEFI through OVMF, TCG, or
KVM with VIGIE_QEMU_ACCEL=kvm) with user-mode networking and SSH forwarded to
127.0.0.1, and checks it over SSH with a key.

Usage: boot_image.py IMAGE PRIVATE_KEY   (prints what it checks; exit 1 on failure)
Used by test_image.py; the image is never written (a qcow2 overlay takes the writes).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BootedImage:
    def __init__(self, image: str, key: str, timeout: float = 900):
        self.image, self.key, self.timeout = image, key, timeout
        self.dir = tempfile.mkdtemp(prefix="vigie-boot-")
        self.port = free_port()
        self.console = os.path.join(self.dir, "console.log")
        self.qemu: subprocess.Popen | None = None

    def __enter__(self) -> "BootedImage":
        overlay = os.path.join(self.dir, "disk.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.abspath(self.image), "-F", "raw",
                        overlay], check=True)
        vars_copy = os.path.join(self.dir, "vars.fd")
        shutil.copy(OVMF_VARS, vars_copy)
        # TCG unless told otherwise: on this machine kind /dev/kvm opens and
        # creates a VM, yet a KVM guest never runs (0 s of CPU after minutes).
        accel = os.environ.get("VIGIE_QEMU_ACCEL", "tcg")
        args = ["qemu-system-x86_64", "-machine", "q35", "-accel", accel, "-m", "1024",
                "-smp", "2", "-nographic", "-no-reboot",
                "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}",
                "-drive", f"if=virtio,format=qcow2,file={overlay}",
                "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.port}-:22",
                "-device", "virtio-net-pci,netdev=net0",
                # A hardware watchdog for systemd's RuntimeWatchdogSec.
                "-device", "i6300esb",
                "-serial", f"file:{self.console}", "-monitor", "none", "-display", "none"]
        self.qemu = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.timeout
        while True:
            if self.qemu.poll() is not None:
                raise RuntimeError(f"qemu exited {self.qemu.returncode}: {self.qemu.stderr.read().decode()}\n"
                                   f"{self.console_tail()}")
            if self.ssh("true", check=False, timeout=20).returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"no SSH after {self.timeout:.0f} s\n{self.console_tail()}")
            time.sleep(5)

    def __exit__(self, *exc) -> None:
        if self.qemu and self.qemu.poll() is None:
            self.qemu.terminate()
            try:
                self.qemu.wait(10)
            except subprocess.TimeoutExpired:
                self.qemu.kill()
                self.qemu.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def console_tail(self, lines: int = 40) -> str:
        try:
            with open(self.console, errors="replace") as f:
                return "console:\n" + "".join(f.readlines()[-lines:])
        except OSError:
            return "(no console output)"

    def ssh_args(self, *options: str) -> list[str]:
        return ["ssh", "-p", str(self.port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", *options]

    def ssh(self, command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        args = self.ssh_args("-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", self.key) + [
            "root@127.0.0.1", command]
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            result = subprocess.CompletedProcess(args, 255, "", "timeout")
        if check and result.returncode != 0:
            raise RuntimeError(f"ssh {command!r} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result

    def password_refused(self) -> str:
        """What sshd answers to a client that offers only a password."""
        args = self.ssh_args("-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no",
                             "-o", "PreferredAuthentications=password,keyboard-interactive") + ["root@127.0.0.1", "true"]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0, "a login without a key succeeded"
        return result.stderr


def main() -> int:
    image, key = sys.argv[1], sys.argv[2]
    start = time.monotonic()
    with BootedImage(image, key) as vm:
        print(f"SSH up after {time.monotonic() - start:.0f} s")
        for command in ["systemctl is-system-running --wait || true", "systemctl is-active vigie",
                        "vigie status", "vigie version", "findmnt -n -o OPTIONS /",
                        "journalctl --header | grep -m1 'File path'", "ls /etc/ssh/ssh_host_ed25519_key"]:
            print(f"$ {command}\n{vm.ssh(command, check=False).stdout}")
        print("password-only login:", vm.password_refused().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
