#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Chromium, for the real-browser report test
# (tests/test_report_browser.py). Idempotent: does nothing when a Chromium is already on PATH.
set -euo pipefail

have_chromium() {
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
        || command -v google-chrome >/dev/null 2>&1
}

if have_chromium; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get here; install Chromium (or Chrome) yourself for the browser test" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "install-system-deps: installing chromium (headless browser for the report test)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Debian ships it as "chromium"; Ubuntu's "chromium-browser" is a snap shim, so try Debian's name first.
$SUDO apt-get install -y -qq --no-install-recommends chromium \
    || $SUDO apt-get install -y -qq --no-install-recommends chromium-browser
have_chromium
