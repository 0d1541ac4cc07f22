#!/usr/bin/env bash
# Installs, when missing, the Cap'n Proto tools the schema package needs:
#
#   capnp      Debian's capnproto package: the reference compiler, and the
#              tool the schema tests encode and decode messages with.
#   capnpc-go  the Go plugin, built at exactly the capnproto.org/go/capnp/v3
#              version in go.mod (generated code must match the runtime it
#              is compiled against), into ./.tools/bin.
#
# Idempotent: when both are in place it does nothing and prints nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! command -v capnp >/dev/null 2>&1; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "capnp-tools: capnp is not installed, and installing Debian's capnproto needs root (no sudo found)" >&2
			exit 1
		fi
		sudo="sudo"
	fi
	# Refresh the package lists only when they do not offer capnproto yet.
	# (Captured first: with pipefail, grep -q closing the pipe early would
	# make a found package look missing.)
	policy=$(apt-cache policy capnproto 2>/dev/null || true)
	if ! grep -q 'Candidate: [^(]' <<<"$policy"; then
		echo "capnp-tools: apt-get update" >&2
		$sudo apt-get update -qq
	fi
	echo "capnp-tools: installing Debian's capnproto" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends capnproto >/dev/null
fi

want=$(go list -m -f '{{.Version}}' capnproto.org/go/capnp/v3)
bin="$root/.tools/bin/capnpc-go"
have=""
if [ -x "$bin" ]; then
	have=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" && $2 == "capnproto.org/go/capnp/v3" { print $3 }')
fi
if [ "$have" != "$want" ]; then
	echo "capnp-tools: installing capnpc-go $want into .tools/bin${have:+ (was $have)}" >&2
	GOBIN="$root/.tools/bin" go install "capnproto.org/go/capnp/v3/capnpc-go@$want"
fi
