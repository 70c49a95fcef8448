#!/usr/bin/env bash
# Shared set-up for scripts/demo and scripts/test: installs the system packages the
# project needs (Debian / Raspberry Pi OS), creates .venv and installs the project into it.
# Usage: source scripts/bootstrap.sh [EXTRAS]   (e.g. "test")
set -euo pipefail

PLANTAR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$PLANTAR_ROOT"

_apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "plantar: error: missing system packages (${missing[*]}) and no apt-get; install them by hand" >&2
        return 1
    fi
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "plantar: installing system packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    # openjdk's postinst links its man pages there; slim images leave the directory out
    $sudo mkdir -p /usr/share/man/man1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "plantar: error: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1)); on Debian 12 / Raspberry Pi OS Bookworm: sudo apt install python3" >&2
    exit 1
fi
if [ "$(getconf LONG_BIT)" != "64" ]; then
    echo "plantar: error: a 64-bit OS is needed (numba has no 32-bit ARM wheels); install 64-bit Raspberry Pi OS" >&2
    exit 1
fi

# System packages: venv support (Debian splits it out), then PLANTAR_APT_PACKAGES
# (scripts/test: a C compiler for the firmware core, valgrind, chromium, and
# default-jre-headless for the archive's Spark test).
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    _apt_install python3-venv
fi
_apt_install ${PLANTAR_APT_PACKAGES:-}

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
extras="${1:-}"
spec="."
[ -n "$extras" ] && spec=".[$extras]"
stamp=".venv/.plantar-installed-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e "$spec"
    touch "$stamp"
fi
export PATH="$PLANTAR_ROOT/.venv/bin:$PATH"
