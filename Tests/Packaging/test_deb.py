"""The vigie .deb: built by scripts/build-deb from the test build's binary,
checked with lintian, installed into a fresh Debian 12 chroot made by
mmdebstrap, checked there, then removed and purged.

Run by scripts/test. Needs root (chroot, dpkg in the chroot, mmdebstrap) and
Debian's mirror; skips with the reason when not root.

The binary: $VIGIE_BINARY, else .build/debug/vigie. A debug build loads the
Swift runtime from shared libraries, which no Debian package ships: the test
copies those few libraries into the chroot and points LD_LIBRARY_PATH at
them to run `vigie` there; every other library must come from the package's
Depends.

The chroot's base (Debian 12 with systemd and the packages the .deb depends
on) is a tarball cached in $VIGIE_CACHE_DIR (default ~/.cache/vigie), keyed by
its package list: a second run skips mmdebstrap.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("VIGIE_BINARY") or os.path.join(ROOT, ".build", "debug", "vigie")
CACHE = os.environ.get("VIGIE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "vigie")
MIRROR = os.environ.get("VIGIE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# The exposure systemd-analyze gives the unit (docs/packaging.md): a change
# that raises it must be a decision, and the docs updated with it.
MAX_EXPOSURE = 6.3

# The C libraries Vigie links, and Debian 12's runtime package of each.
RUNTIME_PACKAGES = {
    "libGammu.so.8": "libgammu8",
    "libudev.so.1": "libudev1",
    "libpcap.so.0.8": "libpcap0.8",
    "libfuse3.so.3": "libfuse3-3",
    "libcurl.so.4": "libcurl4",
    "libgpiod.so.2": "libgpiod2",
    "libarchive.so.13": "libarchive13",
    "libqrencode.so.4": "libqrencode4",
    "libxml2.so.2": "libxml2",
    "libsqlite3.so.0": "libsqlite3-0",
}

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: chroot, dpkg and mmdebstrap run as root (CI is root)"),
]


def run(args, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("check", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("capture_output", True)
    try:
        return subprocess.run(args, **kwargs)
    except subprocess.CalledProcessError as error:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {error.returncode}\n"
            f"stdout:\n{error.stdout}\nstderr:\n{error.stderr}") from None


def control_field(deb: str, field: str) -> str:
    return run(["dpkg-deb", "--field", deb, field]).stdout.strip()


@pytest.fixture(scope="module")
def workdir():
    path = tempfile.mkdtemp(prefix="vigie-deb-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def deb(workdir) -> str:
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"no vigie binary at {BINARY}: build it first (swift build), or set VIGIE_BINARY")
    result = run([os.path.join(ROOT, "scripts", "build-deb"), "--binary", BINARY,
                  "--allow-dynamic-swift-runtime", "--compression", "gzip", "--output", workdir])
    path = result.stdout.strip().splitlines()[-1]
    assert os.path.isfile(path), result.stderr
    return path


def depends_names(deb: str) -> list[str]:
    return [re.split(r"[ (]", part.strip())[0] for part in control_field(deb, "Depends").split(",")]


@pytest.fixture(scope="module")
def base_tarball(deb) -> str:
    """Debian 12 with systemd and exactly the packages the .deb depends on."""
    packages = sorted(set(depends_names(deb)) | {"systemd"})
    key = hashlib.sha256(f"bookworm {MIRROR} apt {' '.join(packages)}".encode()).hexdigest()[:16]
    os.makedirs(CACHE, exist_ok=True)
    tarball = os.path.join(CACHE, f"bookworm-vigie-deb-test-{key}.tar")
    if not os.path.exists(tarball):
        partial = tarball + ".partial"
        run(["mmdebstrap", "--quiet", "--format=tar", "--variant=apt", "--include=" + ",".join(packages),
             "bookworm", partial, MIRROR], timeout=1800)
        os.replace(partial, tarball)
    return tarball


@pytest.fixture(scope="module")
def chroot(base_tarball, workdir, deb) -> str:
    path = os.path.join(workdir, "root")
    os.makedirs(path)
    run(["tar", "-C", path, "-xf", base_tarball])
    shutil.copy(deb, os.path.join(path, "tmp", "vigie.deb"))
    # The Swift runtime of a debug build, which no package provides.
    runtime = os.path.join(path, "opt", "swift-runtime")
    os.makedirs(runtime)
    for line in run(["ldd", BINARY]).stdout.splitlines():
        match = re.match(r"\s*(\S+) => (\S+) ", line)
        if match and "swift" in match.group(2).split("/lib/")[0]:
            shutil.copy(match.group(2), runtime)
    return path


def in_chroot(root: str, *args: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
           "LD_LIBRARY_PATH": "/opt/swift-runtime"}
    userspec = [f"--userspec={user}:{user}"] if user else []
    # A private mount namespace with /proc (Foundation reads it), gone when the command ends.
    script = 'root=$1; shift; mount -t proc proc "$root/proc" && exec chroot "$@"'
    return run(["unshare", "--mount", "--propagation", "private", "--fork", "--", "sh", "-c", script, "sh",
                root, *userspec, root, *args], env=env, check=check)


# MARK: the package itself


def test_lintian_reports_no_error_or_warning(deb):
    result = run(["lintian", "--fail-on", "error,warning", "--display-info", deb], check=False)
    assert result.returncode == 0, f"lintian:\n{result.stdout}{result.stderr}"
    assert not re.search(r"^[EW]: ", result.stdout, re.M), result.stdout


def test_package_contents(deb):
    listing = run(["dpkg-deb", "--contents", deb]).stdout
    files = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    for path in ["/usr/bin/vigie", "/lib/systemd/system/vigie.service", "/lib/systemd/system/vigie-reboot.path",
                 "/lib/systemd/system/vigie-reboot.service", "/lib/udev/rules.d/90-vigie-modem.rules",
                 "/lib/udev/rules.d/91-vigie-leds.rules", "/etc/vigie/vigie.toml",
                 "/usr/share/doc/vigie/copyright", "/usr/share/doc/vigie/changelog.gz",
                 "/usr/share/man/man1/vigie.1.gz"]:
        assert path in files, f"{path} missing from the package:\n{listing}"
    for line in listing.splitlines():
        assert " root/root " in line, f"not owned by root: {line}"
    conffiles = run(["dpkg-deb", "--ctrl-tarfile", deb], text=False).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(conffiles)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("conffiles"))
        assert tar.extractfile(member).read().decode().split() == ["/etc/vigie/vigie.toml"]


def test_depends_names_the_runtime_library_of_each_c_library(deb):
    names = depends_names(deb)
    for library, package in RUNTIME_PACKAGES.items():
        assert package in names, f"Depends lacks {package} (for {library}): {names}"
    assert "adduser" in names
    assert "procps" in names, "ExecReload uses /bin/kill"
    # The Swift runtime is no Debian package's: it must not leak into Depends.
    assert not [name for name in names if "swift" in name], names


def test_version_is_the_binarys(deb):
    reported = run([BINARY, "version"]).stdout.strip().removeprefix("vigie ")
    assert control_field(deb, "Version") == reported.replace("-", "~")
    with tarfile.open(fileobj=__import__("io").BytesIO(
            run(["dpkg-deb", "--fsys-tarfile", deb], text=False).stdout)) as tar:
        changelog = gzip.decompress(tar.extractfile("./usr/share/doc/vigie/changelog.gz").read()).decode()
    assert changelog.startswith(f"vigie ({control_field(deb, 'Version')}) ")


def test_refuses_a_dynamic_swift_runtime_without_the_flag(workdir):
    if "libswiftCore" not in run(["readelf", "-d", BINARY]).stdout:
        pytest.skip(f"{BINARY} links the Swift runtime statically (a release build)")
    result = run([os.path.join(ROOT, "scripts", "build-deb"), "--binary", BINARY, "--output", workdir],
                 check=False)
    assert result.returncode != 0
    assert "Swift runtime" in result.stderr, result.stderr


def test_unit_passes_systemd_analyze_verify_and_keeps_its_exposure():
    unit = os.path.join(ROOT, "packaging", "vigie.service")
    security = run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit], check=False)
    match = re.search(r"Overall exposure level for vigie.service: ([0-9.]+)", security.stdout + security.stderr)
    assert match, security.stdout + security.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, security.stdout
    for name in ["vigie.service", "vigie-reboot.path", "vigie-reboot.service"]:
        text = open(os.path.join(ROOT, "packaging", name)).read()
        for key in re.findall(r"^([A-Za-z]+)=", text, re.M):
            assert key in KNOWN_UNIT_KEYS, f"{name}: unexpected key {key}"


KNOWN_UNIT_KEYS = {
    "Description", "Documentation", "After", "Wants", "Type", "NotifyAccess", "ExecStart", "ExecStartPre",
    "ExecReload", "WatchdogSec", "Restart", "RestartSec", "TimeoutStartSec", "TimeoutStopSec", "User", "Group",
    "UMask", "StateDirectory", "StateDirectoryMode", "RuntimeDirectory", "RuntimeDirectoryMode", "CacheDirectory",
    "CacheDirectoryMode", "AmbientCapabilities", "CapabilityBoundingSet", "ProtectSystem", "ReadWritePaths",
    "ProtectHome", "PrivateTmp", "ProtectControlGroups", "ProtectProc", "KeyringMode", "WantedBy", "PathExists",
    "Unit",
}


def test_unit_settings():
    text = open(os.path.join(ROOT, "packaging", "vigie.service")).read()
    settings = dict(re.findall(r"^([A-Za-z]+)=(.*)$", text, re.M))
    assert settings["Type"] == "notify"
    assert settings["Restart"] == "always"
    assert settings["User"] == "vigie"
    assert settings["WatchdogSec"]
    assert settings["AmbientCapabilities"] == "CAP_NET_RAW"
    assert "CAP_NET_ADMIN" not in text.split("[Service]")[1].split("#")[0]
    assert settings["ProtectSystem"] == "strict"
    assert settings["StateDirectory"] == settings["RuntimeDirectory"] == "vigie"
    # fusermount3 is setuid root: NoNewPrivileges would stop the Drive mount.
    assert "NoNewPrivileges" not in settings


# MARK: installed into a fresh Debian 12


@pytest.fixture(scope="module")
def installed(chroot):
    in_chroot(chroot, "dpkg", "--install", "/tmp/vigie.deb")
    return chroot


def test_install_puts_files_user_groups_and_enables_the_unit(installed):
    root = installed
    for path in ["usr/bin/vigie", "lib/systemd/system/vigie.service", "lib/udev/rules.d/90-vigie-modem.rules",
                 "lib/udev/rules.d/91-vigie-leds.rules", "etc/vigie/vigie.toml"]:
        assert os.path.exists(os.path.join(root, path)), path
    passwd = in_chroot(root, "getent", "passwd", "vigie").stdout.strip().split(":")
    assert passwd[5] == "/var/lib/vigie" and passwd[6] == "/usr/sbin/nologin", passwd
    assert int(passwd[2]) < 1000, f"not a system user: {passwd}"
    groups = in_chroot(root, "id", "-nG", "vigie").stdout.split()
    assert {"vigie", "dialout", "gpio"} <= set(groups), groups
    assert in_chroot(root, "systemctl", "is-enabled", "vigie.service").stdout.strip() == "enabled"
    assert os.path.islink(os.path.join(root, "etc/systemd/system/multi-user.target.wants/vigie.service"))
    stat = in_chroot(root, "stat", "-c", "%U:%G %a", "/etc/vigie/vigie.toml").stdout.strip()
    assert stat == "root:vigie 640", stat
    # Every shared library resolves from the Depends (and the test's Swift runtime).
    ldd = in_chroot(root, "ldd", "/usr/bin/vigie").stdout
    assert "not found" not in ldd, ldd


def test_installed_config_passes_config_check_as_the_vigie_user(installed):
    result = in_chroot(installed, "/usr/bin/vigie", "config", "check", "/etc/vigie/vigie.toml", user="vigie")
    assert result.stdout.strip() == "/etc/vigie/vigie.toml: OK", result.stdout + result.stderr
    assert in_chroot(installed, "/usr/bin/vigie", "version").stdout.startswith("vigie ")


def test_units_verify_in_the_installed_system(installed):
    # systemd-analyze verify of the installed units against the chroot's systemd.
    result = in_chroot(installed, "systemd-analyze", "verify", "--man=no",
                       "/lib/systemd/system/vigie.service", "/lib/systemd/system/vigie-reboot.path",
                       "/lib/systemd/system/vigie-reboot.service", check=False)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if "vigie" in line and "Failed to" not in line]
    assert not problems, result.stdout + result.stderr


def test_remove_keeps_config_and_state_then_purge_removes_them(installed):
    root = installed
    # State the daemon would have written.
    in_chroot(root, "install", "-d", "-o", "vigie", "-g", "vigie", "-m", "0750", "/var/lib/vigie")
    in_chroot(root, "install", "-o", "vigie", "-g", "vigie", "-m", "0600", "/dev/null", "/var/lib/vigie/state.db")
    in_chroot(root, "install", "-o", "vigie", "-g", "vigie", "-m", "0600", "/dev/null", "/etc/vigie/pin")

    in_chroot(root, "dpkg", "--remove", "vigie")
    assert not os.path.exists(os.path.join(root, "usr/bin/vigie"))
    assert not os.path.exists(os.path.join(root, "lib/systemd/system/vigie.service"))
    assert os.path.exists(os.path.join(root, "etc/vigie/vigie.toml")), "remove must keep the conffile"
    assert os.path.exists(os.path.join(root, "var/lib/vigie/state.db")), "remove must keep the state"
    status = in_chroot(root, "dpkg-query", "-W", "-f=${Status}", "vigie").stdout
    assert status == "deinstall ok config-files", status

    in_chroot(root, "dpkg", "--purge", "vigie")
    for path in ["etc/vigie", "var/lib/vigie", "var/cache/vigie",
                 "etc/systemd/system/multi-user.target.wants/vigie.service",
                 "etc/systemd/system/vigie.service"]:
        assert not os.path.lexists(os.path.join(root, path)), f"/{path} left after purge"
    assert in_chroot(root, "dpkg-statoverride", "--list", "/etc/vigie/vigie.toml", check=False).returncode != 0
    assert in_chroot(root, "dpkg-query", "-W", "vigie", check=False).returncode != 0
    leftovers = in_chroot(root, "find", "/", "-xdev", "-name", "*vigie*", "-not", "-path", "/tmp/*",
                          "-not", "-path", "/var/lib/dpkg/*", "-not", "-path", "/proc/*").stdout.split()
    assert leftovers == [], leftovers
    # The user stays, as adduser advises for system users (docs/packaging.md).
    assert in_chroot(root, "getent", "passwd", "vigie").returncode == 0
