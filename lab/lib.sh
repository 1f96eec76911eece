# shellcheck shell=bash
# Shared helpers for lab/setup, lab/run and lab/test (sourced, not run).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/.." && pwd)
CACHE=${LKVM_LAB_CACHE:-/var/cache/lkvm-lab}

# Host packages the lab needs (command used as a cheap "already installed" probe).
LAB_PACKAGES=(qemu-system-x86 busybox-static cpio xz-utils kmod gzip coreutils binutils)

say() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 2; }

# Print the kernel module paths (relative to lib/modules/VER) needed to load
# each named module, dependencies first, no duplicates.
# usage: mod_closure MODDIR name...
mod_closure() {
    local moddir=$1; shift
    local -A seen=()
    local out=()
    _mod_visit() {
        local name=$1 line path deps d
        # modules.dep keys are paths; match the file name with - or _ spellings.
        local alt=${name//_/-} alt2=${name//-/_}
        line=$(grep -E "/(${alt}|${alt2})\.ko(\.xz|\.zst)?:" "$moddir/modules.dep" | head -n1) || true
        if [[ -z $line ]]; then
            if grep -qE "/(${alt}|${alt2})\.ko" "$moddir/modules.builtin" 2>/dev/null; then
                return 0 # built into the kernel: nothing to load
            fi
            die "module $name not found in $moddir/modules.dep"
        fi
        path=${line%%:*}
        [[ -n ${seen[$path]:-} ]] && return 0
        seen[$path]=1
        deps=${line#*:}
        for d in $deps; do
            d=${d##*/}; d=${d%%.ko*}
            _mod_visit "$d"
        done
        out+=("$path")
    }
    local n
    for n in "$@"; do _mod_visit "$n"; done
    printf '%s\n' "${out[@]}"
}

# Copy a binary and every shared library it needs (ldd) under DESTROOT,
# at the same absolute paths, so it runs inside the lab's initramfs.
# usage: copy_with_libs DESTROOT BINARY [DEST_PATH_IN_ROOT]
copy_with_libs() {
    local root=$1 bin=$2 dest=${3:-$2} lib
    install -D -m 0755 "$bin" "$root$dest"
    # ldd prints "name => /path (addr)" or "/lib64/ld-linux... (addr)".
    while read -r lib; do
        [[ -n $lib && -e $lib ]] || continue
        if [[ ! -e $root$lib ]]; then
            install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
        fi
    done < <(ldd "$bin" 2>/dev/null | awk '/=> \//{print $3} /^[ \t]*\//{print $1}')
}

# Pack a directory as a newc cpio archive, gzip'd or plain.
pack_cpio_plain() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2"; }
pack_cpio() { pack_cpio_plain "$1" /dev/stdout | gzip -1 >"$2"; }
