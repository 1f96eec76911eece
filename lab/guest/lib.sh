# Shell helpers shared by the L1 and L2 inits (busybox ash), installed as
# /lib/lab.sh in both initramfs images.

# uptime: first field of /proc/uptime (seconds since this kernel booted).
lab_uptime() { read -r up _ </proc/uptime; echo "$up"; }

# lab_param NAME: value of NAME=... on the kernel command line (empty if absent).
lab_param() {
    for w in $(cat /proc/cmdline); do
        case $w in "$1"=*) echo "${w#*=}"; return 0 ;; esac
    done
}

# load_modules NAME...: insmod each module and its dependencies, using the
# modules.dep staged by lab/setup. Built-in or already loaded modules are
# skipped; .ko.xz files (trixie layout) are decompressed first.
load_modules() {
    for m in "$@"; do load_module "$m" || return 1; done
}
load_module() {
    local name dir line path deps d
    name=$(echo "$1" | tr - _)
    [ -d "/sys/module/$name" ] && return 0
    dir=/lib/modules/$(uname -r)
    line=$(grep -E "/($name|$(echo "$name" | tr _ -))\.ko(\.xz)?:" "$dir/modules.dep" 2>/dev/null | head -n1)
    if [ -z "$line" ]; then
        grep -qE "/($name|$(echo "$name" | tr _ -))\.ko" "$dir/modules.builtin" 2>/dev/null && return 0
        echo "lab: module $name not in the initramfs" >&2
        return 1
    fi
    path=${line%%:*}
    deps=${line#*:}
    for d in $deps; do
        d=${d##*/}
        load_module "${d%%.ko*}" || return 1
    done
    case $path in
    *.xz) xz -dc "$dir/$path" >/tmp/mod.ko && insmod /tmp/mod.ko; rm -f /tmp/mod.ko ;;
    *) insmod "$dir/$path" ;;
    esac
}

# (L1) lab_scenario NAME TIMEOUT INTERACTIVE INPUT_AFTER INPUT CMD...: run one
# VMM invocation and print its exit status as a marker. TIMEOUT 0 means none.
# Stdin: the user's terminal (INTERACTIVE=1); else INPUT (a newline added) fed
# once the console printed a line containing INPUT_AFTER; else /dev/null.
lab_scenario() {
    local name=$1 limit=$2 interactive=$3 after=$4 input=$5 rc t0 t1
    shift 5
    echo "LAB-L1: scenario=$name begin uptime=$(lab_uptime)"
    local hook=${name%_pci} # NAME_pci: scenario NAME over virtio-pci, same hooks
    ! type "l1_before_$hook" >/dev/null 2>&1 || "l1_before_$hook"
    t0=$(lab_uptime)
    if [ "$interactive" = 1 ]; then
        # The console is L2's: the VMM reads the user's keys on stdin.
        "$@"
    else
        lab_piped "$t0" "$after" "$input" lab_limit "$limit" "$@"
    fi
    rc=$?
    t1=$(lab_uptime)
    # busybox timeout exits 143 on expiry (not 124): judge by elapsed time.
    if [ "$limit" != 0 ] && awk "BEGIN{exit !($t1 - $t0 >= $limit)}"; then
        echo "LAB-L1: scenario=$name timeout after ${limit}s"
    fi
    ! type "l1_after_$hook" >/dev/null 2>&1 || "l1_after_$hook"
    echo "LAB-L1: scenario=$name lkvm exit=$rc seconds=$(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")"
}

# lab_limit SECONDS CMD...: CMD, stopped after SECONDS (0: no limit). At the
# limit, before stopping it, L1 shows where each running VM's vCPUs are
# (lab_show_vms): a VM that does not finish is a bug to find, not only a
# timeout to report.
lab_limit() {
    local limit=$1 rc watchdog
    shift
    [ "$limit" != 0 ] || { "$@"; return; }
    # Its output goes to the console itself: an inherited pipe (lab_piped reads
    # CMD's output through one) would stay open in the sleep until the limit.
    # The sleep runs in the background of the watchdog, whose TERM trap ends
    # it too: killed in the foreground it would outlive the watchdog.
    (
        trap 'kill "$nap" 2>/dev/null; exit 0' TERM
        sleep "$limit" &
        nap=$!
        wait "$nap" && lab_show_vms
    ) >"${LAB_CONSOLE:-/dev/console}" 2>&1 </dev/null &
    watchdog=$!
    timeout -k 5 $((limit + 20)) "$@"
    rc=$?
    kill "$watchdog" 2>/dev/null
    return $rc
}

# lab_show_vms (L1): `lkvm debug` of each VM lkvm lists: every vCPU's
# registers and kernel function, and the guest's own backtraces (SysRq l).
lab_show_vms() {
    local vm
    [ -x /lab/lkvm ] || return 0
    echo "LAB-L1: limit reached; the running VMs:"
    timeout 10 /lab/lkvm list
    for vm in $(timeout 10 /lab/lkvm list 2>/dev/null | awk 'NR > 1 { print $1 }'); do
        echo "LAB-L1: lkvm debug $vm --sysrq l"
        timeout 15 /lab/lkvm debug "$vm" --sysrq l
    done
}

# lab_piped T0 AFTER INPUT CMD...: CMD with its output passed through line by
# line. After the first "LAB-L2: init reached" line comes "LAB-L1: L2 init
# seen after S s": L1's uptime then minus T0, i.e. from the VMM's start to
# L2's /init on L1's clock (L2's own uptime can undercount its boot: before
# its clocksource switch L2 keeps time in jiffies, which stand still while it
# has no timer tick). CMD's stdin is /dev/null when AFTER is empty; else a
# FIFO, and the first line that contains AFTER makes INPUT and a newline go
# into it (once). Event driven: no polling, and every wait is bounded by
# CMD's own end (lab_limit). Returns CMD's exit status.
lab_piped() {
    local t0=$1 after=$2 input=$3 fifo=/tmp/lab-stdin.$$ rcfile=/tmp/lab-rc.$$ rc
    shift 3
    rm -f "$fifo" "$rcfile"
    if [ -n "$after" ]; then
        mkfifo "$fifo" || return 125
        # Opened read-write, a FIFO never blocks the opener and never reaches
        # end of file while we hold it, so CMD's stdin stays open as a console would.
        exec 3<>"$fifo"
    else
        exec 3</dev/null
    fi
    # The exit status comes out through a file: a pipeline's is its last command's.
    { "$@" <&3 3<&-; echo $? >"$rcfile"; } |
        LAB_AFTER=$after LAB_INPUT=$input awk -v t0="$t0" -v fifo="$fifo" '
            { print; fflush() }
            !seen && index($0, "LAB-L2: init reached") {
                getline now <"/proc/uptime"; close("/proc/uptime"); split(now, up, " ")
                printf "LAB-L1: L2 init seen after %.2f s\n", up[1] - t0; fflush(); seen = 1
            }
            !sent && ENVIRON["LAB_AFTER"] != "" && index($0, ENVIRON["LAB_AFTER"]) {
                print ENVIRON["LAB_INPUT"] > fifo; close(fifo); sent = 1
            }'
    exec 3<&-
    rc=$(cat "$rcfile" 2>/dev/null)
    rm -f "$fifo" "$rcfile"
    return "${rc:-125}"
}

# lab_pattern NAME: one MiB of a recognisable, NAME-specific pattern.
lab_pattern() {
    yes "lkvm-lab-pattern-$1" | head -c 1048576
}

# lab_durable_pattern: 8 MiB in which every 512-byte sector is different
# (its number, zero-padded, and a newline), so a sector lost, stale or
# misplaced shows up. (awk: 8x faster than seq's 1M short lines under TCG.)
lab_durable_pattern() {
    awk 'BEGIN { for (i = 0; i < 16384; i++) printf "%0511d\n", i }'
}

# lab_vmm_mem PID RAM_MIB: a VMM process's memory from /proc (make bench):
# "vmrss=KB guest=KB overhead=KB anon=KB file=KB". guest is the Rss of the
# anonymous mapping of exactly RAM_MIB MiB (guest RAM: lkvm's GuestMemory,
# QEMU's pc.ram), overhead = VmRSS - guest; anon is RssAnon, file is
# RssFile + RssShmem (the binary's and libraries' pages, shared with
# every other process mapping them; RssShmem counts too, for a binary run
# from an initramfs). Fails unless exactly one such mapping.
lab_vmm_mem() {
    awk -v want=$(($2 * 1024)) '
        FILENAME ~ /status$/ {
            if ($1 == "VmRSS:") rss = $2
            if ($1 == "RssAnon:") anon = $2
            if ($1 == "RssFile:" || $1 == "RssShmem:") file += $2
            next
        }
        /^[0-9a-f]+-[0-9a-f]+ / { anonmap = (NF == 5); next }
        $1 == "Size:" { ram = anonmap && $2 == want; next }
        $1 == "Rss:" && ram { guest += $2; n++ }
        END {
            if (n != 1 || rss == "") exit 1
            printf "vmrss=%d guest=%d overhead=%d anon=%d file=%d\n", rss, guest, rss - guest, anon, file
        }' "/proc/$1/status" "/proc/$1/smaps"
}
