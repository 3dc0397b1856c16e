# Shared helpers for Vigie's scripts. Source it: . "$(dirname "$0")/lib/common.sh"
set -euo pipefail

VIGIE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export VIGIE_ROOT

# Debian packages needed to build Vigie (C libraries it links).
VIGIE_BUILD_PACKAGES=(
  pkg-config libgammu-dev libudev-dev libpcap-dev libfuse3-dev fuse3 libcurl4-openssl-dev
  libgpiod-dev libarchive-dev libqrencode-dev libxml2-dev libsqlite3-dev
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_packages PKG...: installs the Debian packages that are missing, and
# only those (apt-get update first, once). Needs root or sudo.
ensure_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}) and not root: install them or run with sudo"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_swift: Swift 6.1 or newer must be on PATH (Debian has no package for it).
ensure_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
      if [ -x "$candidate/swift" ]; then export PATH="$candidate:$PATH"; break; fi
    done
  fi
  command -v swift >/dev/null 2>&1 || die "Swift 6.1 or newer is needed (https://www.swift.org/install/linux/ : Debian 12 tarball), then put its usr/bin on PATH"
  local version
  version="$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -1)"
  case "$version" in
    6.[1-9]*|6.[1-9][0-9]*|[7-9].*) ;;
    *) die "Swift 6.1 or newer is needed, found '${version:-unknown}'" ;;
  esac
}

# ensure_pip_packages NAME...: installs the PyPI packages python3 cannot import.
# MODULE:PACKAGE when the import name differs (websocket:websocket-client).
ensure_pip_packages() {
  local missing=()
  local name
  for name in "$@"; do
    python3 -c "import ${name%%:*}" 2>/dev/null || missing+=("${name#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing missing PyPI packages: ${missing[*]}"
  python3 -m pip install --quiet "${missing[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "${missing[@]}"
}
