#!/usr/bin/env bash
# Regenerates schema/*.capnp.go from schema/*.capnp with the pinned tools
# (scripts/capnp-tools.sh installs them).
#
#   scripts/generate.sh           rewrite the generated files
#   scripts/generate.sh --check   regenerate into a temporary directory and
#                                 fail, showing the diff, if a committed file
#                                 differs (CI runs this)
#
# capnp runs from schema/ on bare file names because the generated code
# embeds the schema, file names included: compiling "schema/job.capnp" from
# the repository root would give a different file.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

check=0
case "${1:-}" in
"") ;;
--check) check=1 ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

"$root/scripts/capnp-tools.sh"
export PATH="$root/.tools/bin:$PATH"
std="$(cd "$root" && go list -m -f '{{.Dir}}' capnproto.org/go/capnp/v3)/std"

out="$root/schema"
if [ "$check" = 1 ]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi

cd "$root/schema"
shopt -s nullglob
sources=(*.capnp)
if [ ${#sources[@]} -eq 0 ]; then
	echo "generate: no schema/*.capnp files" >&2
	exit 1
fi
for src in "${sources[@]}"; do
	capnp compile -I "$std" -o"go:$out" "$src"
done

if [ "$check" = 1 ]; then
	stale=0
	for src in "${sources[@]}"; do
		gen="$src.go"
		if ! diff -u --label "schema/$gen (committed)" --label "schema/$gen (regenerated)" "$gen" "$out/$gen"; then
			echo "schema/$gen is stale: run make generate" >&2
			stale=1
		fi
	done
	exit "$stale"
fi
