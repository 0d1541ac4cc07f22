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

scripts/apt-ensure.sh capnp:capnproto

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
