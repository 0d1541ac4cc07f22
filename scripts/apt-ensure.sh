#!/usr/bin/env bash
# Installs Debian packages for commands that are missing:
#
#   scripts/apt-ensure.sh COMMAND:PACKAGE...
#
# e.g. `scripts/apt-ensure.sh capnp:capnproto vips:libvips-tools`. A command
# already on PATH is left alone, so this is idempotent and silent once all
# are there. Installing needs root or sudo.
set -euo pipefail

missing=()
for pair in "$@"; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "apt-ensure: ${missing[*]} not installed, and installing needs root (no sudo found)" >&2
		exit 1
	fi
	sudo="sudo"
fi
# Refresh the package lists only when they do not offer a package yet.
# (Captured first: with pipefail, grep -q closing the pipe early would make
# a found package look missing.)
for p in "${missing[@]}"; do
	policy=$(apt-cache policy "$p" 2>/dev/null || true)
	if ! grep -q 'Candidate: [^(]' <<<"$policy"; then
		echo "apt-ensure: apt-get update" >&2
		$sudo apt-get update -qq
		break
	fi
done
echo "apt-ensure: installing ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
