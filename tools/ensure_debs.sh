#!/usr/bin/env bash
# Install the Debian packages named on the command line that are missing.
# Runs apt-get only when something is missing and we are root; otherwise says what to install.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "gas-hmi: missing Debian packages: ${missing[*]}" >&2
  echo "gas-hmi: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "gas-hmi: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
