#!/usr/bin/env bash
# System packages the test suite needs beyond Python, installed only when missing (idempotent):
#   chromium     the real-browser report test (tests/test_report_browser.py)
#   wrk          the independent load tool of the cross-check (tests/integration/test_crosscheck_wrk.py)
#   java 17      TorchServe's frontend
#   python3.11 + venv from Debian: Triton's Python backend links Debian's libpython3.11
#   strace       the no-phone-home test traces every server's connections (tests/integration/test_no_phone_home.py)
# Needs root (or sudo) and Debian's package registry.
set -euo pipefail

want=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || want+=(chromium)
command -v wrk >/dev/null 2>&1 || want+=(wrk)
command -v java >/dev/null 2>&1 || want+=(openjdk-17-jre-headless)
command -v strace >/dev/null 2>&1 || want+=(strace)
if [ ! -x /usr/bin/python3.11 ]; then
  want+=(python3.11 python3.11-venv)
elif ! /usr/bin/python3.11 -c 'import ensurepip' >/dev/null 2>&1; then
  want+=(python3.11-venv)
fi
[ ${#want[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: no apt-get here; install these yourself: ${want[*]}" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-system-deps: installing ${want[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
