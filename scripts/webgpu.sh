#!/usr/bin/env bash
# Installs, when missing, what the gpu package needs to run, into ./.tools/webgpu:
#
#   lib/libwebgpu_wrapper.so  Google's Dawn (the webgpu.h C API), as built by
#              the npm package bun-webgpu-linux-x64@0.1.7. The tarball must have
#              the registry's published SHA-1 and the SHA-256 pinned below, and
#              the library its pinned SHA-256; anything else is refused.
#   lavapipe/  Mesa's lavapipe (Vulkan on the CPU, for CI): mesa-vulkan-drivers
#              from Debian's bookworm-backports suite (bookworm's own Mesa is too
#              old for this Dawn), with whatever else it needs that this system
#              lacks or has too old (libdrm, and the libvulkan1 loader when it
#              is not installed), downloaded by apt with private sources, lists
#              and caches in a scratch folder (the system's apt configuration
#              is neither used nor changed) and unpacked with dpkg-deb -x, then
#              pruned to lavapipe alone. lavapipe/lvp_icd.json is its ICD file.
#   env        The environment a test or the node needs, to be sourced:
#              WEBGPU_LIB (the library's path), VK_DRIVER_FILES and
#              VK_ICD_FILENAMES (lavapipe only), LD_LIBRARY_PATH.
#
# Idempotent: when everything is in place it does nothing and prints nothing.
#
#   scripts/webgpu.sh                    install what is missing
#   scripts/webgpu.sh --nvidia           also unpack Debian's Vulkan loader and glvnd
#                                        EGL (libvulkan1 libegl1 libglvnd0) into
#                                        .tools/webgpu/nvidia and write env-nvidia:
#                                        what NVIDIA's Vulkan ICD needs on a GPU
#                                        machine whose system lacks them (carry it)
#   scripts/webgpu.sh --check-header     also check that gpu/include/webgpu/webgpu.h
#                                        declares exactly the library's wgpu* symbols
#   scripts/webgpu.sh --gen-header DAWN  regenerate gpu/include/webgpu/webgpu.h from
#                                        a google/dawn git directory (or checkout)
#                                        that holds DAWN_COMMIT, with Dawn's own
#                                        generator (needs Debian's python3-jinja2)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# The Dawn library.
DAWN_NPM_NAME=bun-webgpu-linux-x64
DAWN_NPM_VERSION=0.1.7
DAWN_TGZ_SHA1=f74749914acc2fbc2503cbe8eb5d4b378f285650 # the registry's dist.shasum
DAWN_TGZ_SHA256=8badfecdad4e726ac12be4f29771f4cbd7ce7683b4418316a547c5bda94fb798
DAWN_SO_SHA256=3190c3777f2c07fcf6a0640833cbf5d0cde859dc53aed6d9083946d093198788
# The google/dawn commit whose generated webgpu.h matches that library exactly.
DAWN_COMMIT=7adb0440d5edb719d620f5f5dcac75e5f8bc955e
# Lavapipe. Backports keeps only its newest version, so the version is not
# pinned (apt checks every .deb against Debian's signed indexes); the one these
# scripts were proven with is named, and a different one is reported.
MESA_SUITE=bookworm-backports
MESA_MIN=25
MESA_TESTED=25.0.7-2~bpo12+1
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY=${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

dest=$root/.tools/webgpu
lib=$dest/lib/libwebgpu_wrapper.so
lvp=$dest/lavapipe
lvplib=$lvp/usr/lib/x86_64-linux-gnu
header=gpu/include/webgpu/webgpu.h

say() { echo "webgpu: $*" >&2; }
die() {
	say "$*"
	exit 1
}

check_header=false
gen_header=""
nvidia=false
while [ $# -gt 0 ]; do
	case "$1" in
	--check-header) check_header=true ;;
	--nvidia) nvidia=true ;;
	--gen-header)
		[ $# -ge 2 ] || die "--gen-header needs the path of a google/dawn git directory"
		gen_header=$2
		shift
		;;
	*) die "unknown argument $1 (see the comment at the top of $0)" ;;
	esac
	shift
done

[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] ||
	die "only linux/x86_64 is provided for (the npm package is $DAWN_NPM_NAME)"

sha256() { sha256sum "$1" | cut -d' ' -f1; }

work="" # a scratch folder, made on first use and removed on exit
trap '[ -z "$work" ] || rm -rf "$work"' EXIT
scratch() { [ -n "$work" ] || work=$(mktemp -d); }

# --- the Dawn library -------------------------------------------------------

fetch_dawn() {
	local tmp tgz got
	scratch
	tmp=$work/dawn
	mkdir -p "$tmp"
	tgz=$tmp/$DAWN_NPM_NAME-$DAWN_NPM_VERSION.tgz
	say "fetching $DAWN_NPM_NAME@$DAWN_NPM_VERSION (Dawn, libwebgpu_wrapper.so, 5.5 MB) from the npm registry"
	if command -v npm >/dev/null 2>&1; then
		# npm pack checks the tarball against the registry's sha512 integrity too.
		(cd "$tmp" && npm pack --silent "$DAWN_NPM_NAME@$DAWN_NPM_VERSION" >/dev/null) ||
			die "npm pack $DAWN_NPM_NAME@$DAWN_NPM_VERSION failed"
	else
		curl -sSfL -o "$tgz" \
			"https://registry.npmjs.org/$DAWN_NPM_NAME/-/$DAWN_NPM_NAME-$DAWN_NPM_VERSION.tgz" ||
			die "downloading $DAWN_NPM_NAME@$DAWN_NPM_VERSION failed"
	fi
	got=$(sha1sum "$tgz" | cut -d' ' -f1)
	[ "$got" = "$DAWN_TGZ_SHA1" ] ||
		die "REFUSED: $DAWN_NPM_NAME-$DAWN_NPM_VERSION.tgz has SHA-1 $got, the registry published $DAWN_TGZ_SHA1"
	got=$(sha256 "$tgz")
	[ "$got" = "$DAWN_TGZ_SHA256" ] ||
		die "REFUSED: $DAWN_NPM_NAME-$DAWN_NPM_VERSION.tgz has SHA-256 $got, expected $DAWN_TGZ_SHA256 (republished?)"
	tar -xzf "$tgz" -C "$tmp" package/libwebgpu_wrapper.so
	got=$(sha256 "$tmp/package/libwebgpu_wrapper.so")
	[ "$got" = "$DAWN_SO_SHA256" ] ||
		die "REFUSED: libwebgpu_wrapper.so has SHA-256 $got, expected $DAWN_SO_SHA256"
	mkdir -p "$dest/lib"
	mv -f "$tmp/package/libwebgpu_wrapper.so" "$lib"
}

if [ ! -f "$lib" ]; then
	fetch_dawn
elif [ "$(sha256 "$lib")" != "$DAWN_SO_SHA256" ]; then
	say "$lib is not the pinned build (SHA-256 differs); replacing it"
	fetch_dawn
fi

# --- lavapipe -----------------------------------------------------------------

# lavapipe_ok: the driver, its ICD file and the stamp are there, and every
# library the driver needs resolves (the system may have changed under it).
lavapipe_ok() {
	[ -f "$lvp/installed" ] && [ -f "$lvp/lvp_icd.json" ] && [ -f "$lvplib/libvulkan_lvp.so" ] || return 1
	local deps
	deps=$(LD_LIBRARY_PATH=$lvplib ldd "$lvplib/libvulkan_lvp.so" 2>&1) || return 1
	! grep -q 'not found' <<<"$deps" || return 1
	# The loader: the system's, or the private copy.
	[ -f "$lvplib/libvulkan.so.1" ] || ldconfig -p | grep -q 'libvulkan\.so\.1 '
}

# Private apt: its own sources, lists, caches and preferences in the scratch
# folder (the system's apt configuration is neither used nor changed). The
# system's dpkg status is read, not written, so that resolving shows only what
# this system lacks. Sets apt_opts; runs apt-get update once.
apt_opts=()
apt_ready() {
	[ ${#apt_opts[@]} -eq 0 ] || return 0
	command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
		die "this needs apt-get and dpkg-deb (a Debian system)"
	[ -f "$DEBIAN_KEYRING" ] || die "this needs $DEBIAN_KEYRING (debian-archive-keyring)"
	scratch
	local apt=$work/apt
	mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/preferences.d"
	cat >"$apt/sources.list" <<-EOF
		deb [signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR bookworm main
		deb [signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR bookworm-updates main
		deb [signed-by=$DEBIAN_KEYRING] $DEBIAN_SECURITY bookworm-security main
		deb [signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR $MESA_SUITE main
	EOF
	apt_opts=(
		-o "Dir::Etc::sourcelist=$apt/sources.list"
		-o "Dir::Etc::sourceparts=/nonexistent"
		-o "Dir::Etc::preferences=/nonexistent"
		-o "Dir::Etc::preferencesparts=$apt/preferences.d"
		-o "Dir::State::lists=$apt/lists"
		-o "Dir::Cache::archives=$apt/archives"
		-o "Dir::Cache::pkgcache=$apt/pkgcache.bin"
		-o "Dir::Cache::srcpkgcache=$apt/srcpkgcache.bin"
	)
	# As root apt downloads as the _apt user, which cannot write a mktemp folder.
	[ "$(id -u)" -ne 0 ] || apt_opts+=(-o APT::Sandbox::User=root)
	apt-get "${apt_opts[@]}" -qq update || die "apt-get update (private lists in $apt) failed"
}

# unpack DIR PKG[=VERSION]...: downloads the packages (apt checks each against
# Debian's signed indexes) and unpacks them into DIR with dpkg-deb -x.
unpack() {
	local dir=$1 debs=$work/debs
	shift
	rm -rf "$debs"
	mkdir -p "$debs" "$dir"
	(cd "$debs" && apt-get "${apt_opts[@]}" -qq download "$@") || die "apt-get download $* failed"
	for deb in "$debs"/*.deb; do
		dpkg-deb -x "$deb" "$dir"
		dpkg-deb -f "$deb" Package Version | paste -sd= | sed 's/Package: //; s/=Version: /=/' >>"$dir/installed"
	done
}

fetch_lavapipe() {
	local list pkgs=() stage ver
	say "fetching Mesa lavapipe (mesa-vulkan-drivers from $MESA_SUITE, ~11 MB, and what it needs) into .tools/webgpu/lavapipe"
	apt_ready
	# What installing mesa-vulkan-drivers from backports would add or upgrade.
	list=$(apt-get "${apt_opts[@]}" -s install --no-install-recommends "mesa-vulkan-drivers/$MESA_SUITE" 2>&1) ||
		die "apt cannot resolve mesa-vulkan-drivers/$MESA_SUITE:"$'\n'"$list"
	mapfile -t pkgs < <(awk '$1 == "Inst" { v = $3; if (v ~ /^\[/) v = $4; gsub(/[()]/, "", v); print $2 "=" v }' <<<"$list")
	ver=$(printf '%s\n' "${pkgs[@]}" | sed -n 's/^mesa-vulkan-drivers=//p')
	[ -n "$ver" ] || die "apt would not install mesa-vulkan-drivers from $MESA_SUITE:"$'\n'"$list"
	[ "${ver%%.*}" -ge "$MESA_MIN" ] 2>/dev/null || die "mesa-vulkan-drivers $ver from $MESA_SUITE is older than Mesa $MESA_MIN"
	[ "$ver" = "$MESA_TESTED" ] || say "note: mesa-vulkan-drivers is $ver now; proven with $MESA_TESTED"
	say "unpacking ${pkgs[*]}"
	stage=$dest/lavapipe.new
	rm -rf "$stage"
	unpack "$stage" "${pkgs[@]}"
	[ -f "$stage/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" ] || die "mesa-vulkan-drivers $ver holds no libvulkan_lvp.so"
	# library_path relative to the json file: the tree may be moved or copied.
	cat >"$stage/lvp_icd.json" <<-EOF
		{
		    "file_format_version": "1.0.0",
		    "ICD": {
		        "library_path": "./usr/lib/x86_64-linux-gnu/libvulkan_lvp.so",
		        "api_version": "$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$stage/usr/share/vulkan/icd.d/lvp_icd.json")"
		    }
		}
	EOF
	# Only lavapipe is wanted: drop the hardware drivers, layers and their json
	# files (50 MB), keeping the packages' copyright files.
	rm -rf "$stage/etc" "$stage/usr/share/vulkan" "$stage/usr/share/bug" \
		"$stage/usr/lib/x86_64-linux-gnu/"libVkLayer_* \
		"$stage/usr/lib/x86_64-linux-gnu/"libvulkan_{intel,intel_hasvk,radeon,virtio,gfxstream}.so
	rm -rf "$lvp"
	mv "$stage" "$lvp"
}

lavapipe_ok || fetch_lavapipe
lavapipe_ok || die "lavapipe is unpacked but its libraries do not resolve: $(LD_LIBRARY_PATH=$lvplib ldd "$lvplib/libvulkan_lvp.so" 2>&1 | grep 'not found' | tr -s ' \t' ' ')"

# --- a GPU machine's Vulkan loader (--nvidia) ----------------------------------

nv=$dest/nvidia
nvlib=$nv/usr/lib/x86_64-linux-gnu
if $nvidia && ! { [ -f "$nv/installed" ] && [ -f "$nvlib/libvulkan.so.1" ] && [ -f "$nvlib/libEGL.so.1" ]; }; then
	say "fetching Debian's libvulkan1 libegl1 libglvnd0 into .tools/webgpu/nvidia (NVIDIA's Vulkan ICD needs libEGL.so.1)"
	apt_ready
	rm -rf "$nv.new"
	unpack "$nv.new" libvulkan1 libegl1 libglvnd0
	rm -rf "$nv"
	mv "$nv.new" "$nv"
fi

# --- env ----------------------------------------------------------------------

# write_env FILE TEXT: (re)writes FILE when its text differs.
write_env() {
	if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
		say "writing ${1#"$root"/}"
		printf '%s\n' "$2" >"$1"
	fi
}

env_text="# Written by scripts/webgpu.sh; source it (. .tools/webgpu/env).
# Dawn, for the gpu package (dlopen'd by that path):
export WEBGPU_LIB=$lib
# Vulkan on Mesa's lavapipe (CPU). On a machine with a GPU, point VK_DRIVER_FILES
# at its ICD instead (e.g. /usr/share/vulkan/icd.d/nvidia_icd.json) or unset both.
export VK_DRIVER_FILES=$lvp/lvp_icd.json
export VK_ICD_FILENAMES=$lvp/lvp_icd.json
# lavapipe's libraries (newer libdrm; the Vulkan loader when the system has none).
export LD_LIBRARY_PATH=$lvplib:$dest/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
write_env "$dest/env" "$env_text"
if $nvidia; then
	write_env "$dest/env-nvidia" "# Written by scripts/webgpu.sh --nvidia; source it on a machine with an NVIDIA GPU
# whose system lacks the Vulkan loader or glvnd's libEGL.so.1 (NVIDIA's ICD needs it).
export WEBGPU_LIB=$lib
unset VK_DRIVER_FILES VK_ICD_FILENAMES
for f in /usr/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
	if [ -f \"\$f\" ]; then
		export VK_DRIVER_FILES=\"\$f\" VK_ICD_FILENAMES=\"\$f\"
		break
	fi
done
export LD_LIBRARY_PATH=$nvlib:$dest/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
fi

# --- the header ---------------------------------------------------------------

if [ -n "$gen_header" ]; then
	git --git-dir="$gen_header" cat-file -e "$DAWN_COMMIT^{commit}" 2>/dev/null ||
		git -C "$gen_header" cat-file -e "$DAWN_COMMIT^{commit}" 2>/dev/null ||
		die "$gen_header does not hold Dawn commit $DAWN_COMMIT"
	if ! /usr/bin/python3 -c 'import jinja2' 2>/dev/null; then
		command -v apt-get >/dev/null || die "Dawn's generator needs python3-jinja2"
		sudo=""
		[ "$(id -u)" -eq 0 ] || sudo=sudo
		say "installing python3-jinja2 (Dawn's generator needs it)"
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-jinja2 >/dev/null
	fi
	scratch
	tmp=$work/dawn-src
	mkdir -p "$tmp"
	if git --git-dir="$gen_header" rev-parse --git-dir >/dev/null 2>&1; then
		gitdir=(--git-dir="$gen_header")
	else
		gitdir=(-C "$gen_header")
	fi
	# (Tree by tree: archiving the whole commit stumbles on blobs a shallow or
	# partial mirror lacks.)
	git "${gitdir[@]}" archive --prefix=generator/ "$DAWN_COMMIT:generator" | tar -x -C "$tmp"
	mkdir -p "$tmp/src/dawn"
	for f in LICENSE src/dawn/dawn.json src/dawn/dawn_wire.json src/dawn/dawn_kotlin.json; do
		git "${gitdir[@]}" cat-file blob "$DAWN_COMMIT:$f" >"$tmp/$f"
	done
	(cd "$tmp" && /usr/bin/python3 generator/dawn_json_generator.py \
		--template-dir generator/templates --root-dir . --output-dir out \
		--dawn-json src/dawn/dawn.json --wire-json src/dawn/dawn_wire.json \
		--kotlin-json src/dawn/dawn_kotlin.json --targets headers)
	mkdir -p "$(dirname "$header")"
	for pair in "out/include/dawn/webgpu.h:$header" "LICENSE:gpu/include/LICENSE-dawn"; do
		if ! cmp -s "$tmp/${pair%%:*}" "${pair#*:}"; then
			say "writing ${pair#*:} (from Dawn $DAWN_COMMIT ${pair%%:*})"
			cp "$tmp/${pair%%:*}" "${pair#*:}"
		fi
	done
	check_header=true
fi

if $check_header; then
	[ -f "$header" ] || die "$header is missing (scripts/webgpu.sh --gen-header DAWN_GIT_DIR)"
	decl=$(sed -n '/^#if !defined(WGPU_SKIP_DECLARATIONS)/,/^#endif/p' "$header" |
		grep -oE '^WGPU_EXPORT [^(]*[^A-Za-z0-9_]wgpu[A-Za-z0-9_]*\(' | grep -oE 'wgpu[A-Za-z0-9_]*\($' | tr -d '(' | sort)
	syms=$(nm -D --defined-only "$lib" | awk '$3 ~ /^wgpu/ { print $3 }' | sort)
	if [ "$decl" != "$syms" ]; then
		say "$header and libwebgpu_wrapper.so differ (< header only, > library only):"
		diff <(echo "$decl") <(echo "$syms") | grep '^[<>]' >&2
		exit 1
	fi
	echo "webgpu: $header declares $(wc -l <<<"$decl") wgpu* functions; libwebgpu_wrapper.so exports the same $(wc -l <<<"$syms")"
fi
