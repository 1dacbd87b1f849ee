#!/bin/sh
# Chromium for the browser test of the book (tests/test_book_browser.py): Debian's package, run
# headless with the network off. Installs it when missing and possible (root or passwordless
# sudo, and apt-get); otherwise says why, also in artifacts/browser/chromium-install.txt, the
# reason the test prints when it skips. Never fails: without a browser the rest of `make test`
# still runs.
set -u
cd "$(dirname "$0")/.."
note=artifacts/browser/chromium-install.txt
mkdir -p artifacts/browser

for name in ${TMV_CHROMIUM:-} chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null 2>&1; then
        rm -f "$note"
        exit 0
    fi
done

give_up() {
    echo "$1" > "$note"
    echo "[tmv] $1; the browser test of the book will be skipped" >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 \
    || give_up "no chromium on PATH and no apt-get to install Debian's chromium package"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    give_up "no chromium on PATH, and installing it (apt-get install chromium) needs root or \
passwordless sudo"
fi

echo "[tmv] installing Debian's chromium for the browser test (apt-get install chromium)" >&2
install="$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends"
# The package lists may be missing (fresh container) or stale: refresh them and retry once.
$install chromium >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null 2>&1 && $install chromium >/dev/null 2>&1; } \
    || give_up "no chromium on PATH, and 'apt-get install chromium' failed (no package \
repository reachable, or no chromium package in it)"
command -v chromium >/dev/null 2>&1 \
    || give_up "apt-get installed chromium but no chromium executable is on PATH"
rm -f "$note"
echo "[tmv] chromium installed: $(command -v chromium)" >&2
