#!/usr/bin/env bash
# ensure-apt-package.sh PACKAGE [COMMAND]: install a Debian package when its command is missing.
set -euo pipefail
pkg=$1; cmd=${2:-$1}
if command -v "$cmd" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's $pkg package…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  exit 0
fi
echo "$cmd is not installed: run 'sudo apt-get install $pkg'" >&2
exit 1
