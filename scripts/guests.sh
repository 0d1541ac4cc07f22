#!/usr/bin/env bash
# Builds the library guests (guests/<name>/, GOOS=wasip1) into
# guests/wasm/<name>.wasm, which are committed and embedded: `go build` and
# `go install` need no wasm step. The build is reproducible with the Go
# toolchain named in guests/wasm/TOOLCHAIN (the go command fetches it from
# the module proxy when it is not the local one).
#
#   scripts/guests.sh           rebuild the committed files
#   scripts/guests.sh --check   rebuild into a temporary directory and fail
#                               if any committed file differs (CI runs this)
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

export GOTOOLCHAIN
GOTOOLCHAIN=$(cat "$root/guests/wasm/TOOLCHAIN")
out="$root/guests/wasm"
if [ "$check" = 1 ]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi

cd "$root"
status=0
for dir in guests/*/; do
	name=$(basename "$dir")
	[ -f "$dir/main.go" ] || continue # sdk, wasm: not guests
	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o "$out/$name.wasm" "./$dir"
	if [ "$check" = 1 ]; then
		if ! cmp -s "$out/$name.wasm" "guests/wasm/$name.wasm"; then
			echo "guests/wasm/$name.wasm differs from a rebuild of guests/$name with $GOTOOLCHAIN: run scripts/guests.sh and commit" >&2
			status=1
		fi
	fi
done
if [ "$check" = 1 ]; then
	for f in guests/wasm/*.wasm; do
		[ -e "$f" ] || continue
		[ -e "$out/$(basename "$f")" ] || { echo "$f has no source under guests/: remove it" >&2; status=1; }
	done
fi
exit $status
