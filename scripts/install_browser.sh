#!/usr/bin/env bash
# Installs the headless browser the browser tests drive: Debian's chromium at
# /usr/bin/chromium. Playwright's own browser download cannot work on these
# machines, so the tests launch this binary instead. Safe to run repeatedly.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "==> chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi

echo "==> installing chromium from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
echo "==> installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
