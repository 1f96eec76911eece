# shellcheck shell=bash
# Shared helpers for lab/setup, lab/run and lab/test (sourced, not run).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/.." && pwd)
CACHE=${LKVM_LAB_CACHE:-/var/cache/lkvm-lab}

# Host packages the lab needs (command used as a cheap "already installed" probe).
LAB_PACKAGES=(qemu-system-x86 busybox-static cpio xz-utils kmod gzip coreutils binutils gcc libc6-dev)

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
# The libraries lkvm loads with dlopen, so that no ldd or NEEDED entry names
# them: libslirp for -n mode=user (Sources/Devices/Net/SlirpLibrary.swift).
LKVM_DLOPEN_LIBS=(libslirp.so.0)

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

# --- a private apt configuration (the arm64 lab, scripts/build-aarch64) ---------
# apt_private_init DIR SUITE: an apt setup of its own under DIR for Debian
# SUITE on amd64 and arm64 (own sources list, package lists, cache and an
# empty dpkg status), so that `apt_private DIR download pkg:arm64` works with
# no change to the host's apt sources or architectures. The archive is the
# one the host's sources name (deb.debian.org if none; LKVM_DEBIAN_MIRROR
# overrides). Lists are fetched once; delete DIR/lists to refresh them.
debian_mirror() {
    local m=${LKVM_DEBIAN_MIRROR:-}
    [[ -n $m ]] || m=$(grep -hoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list.d/*.sources \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 | tr -d ' ') || true
    echo "${m:-http://deb.debian.org/debian}"
}
apt_private_init() {
    local dir=$1 suite=$2
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    [[ -e $dir/status ]] || : >"$dir/status"
    echo "deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) $suite main" \
        >"$dir/sources.list"
    cat >"$dir/apt.conf" <<CONF
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "/dev/null";
Dir::State::Lists "$dir/lists";
Dir::State::status "$dir/status";
Dir::Cache "$dir/cache";
APT::Architecture "amd64";
APT::Architectures { "amd64"; "arm64"; };
APT::Sandbox::User "root";
CONF
    if ! compgen -G "$dir/lists/*_Packages*" >/dev/null; then
        say "apt-get update ($suite, private lists in $dir)"
        apt_private "$dir" update -qq || die "apt-get update for $suite failed"
    fi
}
apt_private() { local dir=$1; shift; APT_CONFIG=$dir/apt.conf apt-get "$@"; }
apt_private_cache() { local dir=$1; shift; APT_CONFIG=$dir/apt.conf apt-cache "$@"; }

# apt_private_fetch DIR DEBDIR LIST PKG[:ARCH]...: download each package's
# .deb into DEBDIR unless its candidate version is already there; writes the
# .deb paths to the file LIST, one a line.
apt_private_fetch() {
    local dir=$1 debdir=$2 list=$3 p ver f want=() files=()
    shift 3
    mkdir -p "$debdir"
    for p in "$@"; do
        ver=$(apt_private_cache "$dir" policy "$p" | awk '/Candidate:/{print $2}')
        [[ -n $ver && $ver != "(none)" ]] || die "no package $p in $(cat "$dir/sources.list")"
        f=$(compgen -G "$debdir/${p%%:*}_${ver//:/%3a}_*.deb" | head -n1) || true
        if [[ -z $f ]]; then want+=("$p=$ver"); else files+=("$f"); fi
    done
    if ((${#want[@]})); then
        say "downloading ${#want[@]} packages: ${want[*]%%=*}"
        (cd "$debdir" && apt_private "$dir" download -q "${want[@]}" >/dev/null) || { say "apt-get download failed"; return 1; }
        for p in "${want[@]}"; do
            f=$(compgen -G "$debdir/${p%%[:=]*}_${p#*=}_*.deb" | head -n1) || true
            f=${f:-$(compgen -G "$debdir/${p%%[:=]*}_$(sed 's/:/%3a/' <<<"${p#*=}")_*.deb" | head -n1)} || true
            [[ -n $f ]] || die "download of $p left no .deb in $debdir"
            files+=("$f")
        done
    fi
    printf '%s\n' "${files[@]}" >"$list"
}

# copy_with_sysroot_libs DESTROOT SYSROOT BINARY DEST: a foreign binary (e.g.
# aarch64 on this x86 host, where ldd cannot run it) and the shared libraries
# it needs, found by walking DT_NEEDED (readelf) in SYSROOT's library
# directories; they land in DESTROOT at the paths the guest's loader searches.
copy_with_sysroot_libs() {
    local root=$1 sysroot=$2 bin=$3 dest=$4 interp
    install -D -m 0755 "$bin" "$root$dest"
    interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
    if [[ -n $interp ]]; then
        [[ -e $sysroot$interp ]] || die "$bin: interpreter $interp not in $sysroot"
        install -D -m 0755 "$(readlink -f "$sysroot$interp")" "$root$interp"
    fi
    local -A seen=()
    local todo=("$bin") f lib d found
    while ((${#todo[@]})); do
        f=${todo[0]} todo=("${todo[@]:1}")
        while read -r lib; do
            [[ -n $lib && -z ${seen[$lib]:-} ]] || continue
            seen[$lib]=1
            found=
            for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib; do
                if [[ -e $sysroot/$d/$lib ]]; then found=$sysroot/$d/$lib; break; fi
            done
            [[ -n $found ]] || die "$bin needs $lib, which is not in $sysroot"
            install -D -m 0755 "$(readlink -f "$found")" "$root/lib/aarch64-linux-gnu/$lib"
            todo+=("$found")
        done < <(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    done
}
