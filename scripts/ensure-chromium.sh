#!/usr/bin/env bash
# Installs Debian's chromium (for the browser tests in test/web) when it is missing. No browser download:
# the apt package only. CI runs this as root before `npm test`.
#   scripts/ensure-chromium.sh             install if missing; warn (exit 0) where it cannot
#   scripts/ensure-chromium.sh --required  fail where chromium is missing and cannot be installed
set -euo pipefail
chromium="${SCORESDE_CHROMIUM:-/usr/bin/chromium}"
required=false
[ "${1:-}" = "--required" ] && required=true
if [ -x "$chromium" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $chromium is missing; install Debian's chromium package (apt-get install chromium) as root" >&2
  $required && exit 1
  exit 0
fi
echo "ensure-chromium: installing chromium with apt-get" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
[ -x "$chromium" ] || { echo "ensure-chromium: apt-get finished but $chromium is still missing" >&2; exit 1; }
