# shellcheck shell=sh
# L1-side scenario hooks: l1_before_NAME runs in L1 before the VMM starts,
# l1_after_NAME after it exits (before the "lkvm exit=" marker, so that what
# it prints counts for the scenario). Used to prepare files the VMM is given
# and to check what the guest left in them.

# blk: vda (read-write) holds a pattern in its first MiB that L2 must read;
# L2 writes another at 4 MiB that L1 checks byte for byte after lkvm exits.
# vdb is the same image attached read-only: it must come back untouched.
l1_before_blk() {
    lab_pattern L1 >/tmp/lab-vda.img
    dd if=/dev/zero of=/tmp/lab-vda.img bs=1048576 seek=1 count=7 conv=notrunc 2>/dev/null
    cp /tmp/lab-vda.img /tmp/lab-vdb.img
    md5sum </tmp/lab-vdb.img >/tmp/lab-vdb.md5
}

l1_after_blk() {
    if [ "$(dd if=/tmp/lab-vda.img bs=1048576 skip=4 count=1 2>/dev/null | md5sum)" = "$(lab_pattern L2 | md5sum)" ]; then
        echo "LAB-L1: blk written=ok"
    else
        echo "LAB-L1: blk written=bad"
    fi
    if [ "$(md5sum </tmp/lab-vdb.img)" = "$(cat /tmp/lab-vdb.md5)" ]; then
        echo "LAB-L1: blk readonly untouched=ok"
    else
        echo "LAB-L1: blk readonly untouched=bad"
    fi
    rm -f /tmp/lab-vda.img /tmp/lab-vdb.img /tmp/lab-vdb.md5
}

# 9p: a shared directory with a file L2 must read, a secret next to it that
# L2 must not reach through symlinks, and afterwards the file L2 wrote.
l1_before_9p() {
    rm -rf /tmp/lab-share /tmp/lab-secret
    mkdir -p /tmp/lab-share/sub
    lab_pattern L1 >/tmp/lab-share/from-l1.bin
    echo "host secret" >/tmp/lab-secret
    ln -s /tmp/lab-secret /tmp/lab-share/absolute-link
    ln -s ../lab-secret /tmp/lab-share/relative-link
}

l1_after_9p() {
    if [ "$(md5sum </tmp/lab-share/renamed.bin 2>/dev/null)" = "$(lab_pattern L2 | md5sum)" ]; then
        echo "LAB-L1: 9p written=ok"
    else
        echo "LAB-L1: 9p written=bad ($(ls -la /tmp/lab-share | tr '\n' ' '))"
    fi
    [ -d /tmp/lab-share/made-by-l2 ] && echo "LAB-L1: 9p mkdir=ok"
    [ "$(cat /tmp/lab-secret)" = "host secret" ] && echo "LAB-L1: 9p secret untouched=ok"
    rm -rf /tmp/lab-share /tmp/lab-secret
}

# bench-io: a 256 MiB disk image and a share holding a 64 MiB file.
l1_before_bench_io() {
    dd if=/dev/zero of=/tmp/lab-bench.img bs=1048576 count=256 2>/dev/null
    mkdir -p /tmp/lab-bench-share
    dd if=/dev/zero of=/tmp/lab-bench-share/big.bin bs=1048576 count=64 2>/dev/null
}

l1_after_bench_io() {
    rm -rf /tmp/lab-bench.img /tmp/lab-bench-share
}

# bench_mem: the wrapper lab/run puts in front of the VMM (S_WRAP). The VMM
# runs with a FIFO as stdin and its output in a file; once L2 prints that it
# is ready (at /init), the wrapper reads the VMM's /proc (lab_vmm_mem: VmRSS
# minus the guest RAM mapping's Rss), then types the line L2 waits for, and
# shows the VMM's output when it has exited.
l1_before_bench_mem() {
    cat >/tmp/lab-bench-mem <<'WRAP'
#!/bin/sh
. /lib/lab.sh
out=/tmp/lab-bench-mem.out fifo=/tmp/lab-bench-mem.in ram=256 prev=
for a in "$@"; do [ "$prev" = -m ] && ram=$a; prev=$a; done
rm -f "$out" "$fifo"
mkfifo "$fifo"
exec 3<>"$fifo"
"$@" <&3 >"$out" 2>&1 &
pid=$!
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null && ! grep -q 'LAB-L2: bench mem ready' "$out"; do
    sleep 0.1
    i=$((i + 1))
done
mem=$(lab_vmm_mem $pid "$ram") || mem="failed (no $ram MiB guest RAM mapping in /proc/$pid/smaps)"
echo go >&3
wait $pid
rc=$?
cat "$out"
echo "LAB-L1: bench mem $mem"
exit $rc
WRAP
    chmod +x /tmp/lab-bench-mem
}

l1_after_bench_mem() {
    rm -f /tmp/lab-bench-mem /tmp/lab-bench-mem.out /tmp/lab-bench-mem.in
}

# durable_blk, durable_9p: S_WRAP runs the VMM through /tmp/lab-kill-at,
# which passes its output on line by line and sends it SIGKILL as soon as a
# line holds "fsync done" (L2 then idles, so lkvm cannot exit on its own
# first). Once lkvm is dead, L1 compares what L2 wrote with the pattern.
lab_make_kill_at() {
    cat >/tmp/lab-kill-at <<'WRAP'
#!/bin/sh
fifo=/tmp/lab-kill-at.out
rm -f "$fifo"
mkfifo "$fifo" || exit 125
"$@" </dev/null >"$fifo" 2>&1 &
pid=$!
killed=
while IFS= read -r line; do
    printf '%s\n' "$line"
    case $line in
    *"LAB-L2: durable "*" fsync done"*)
        if [ -z "$killed" ]; then
            kill -9 $pid && echo "LAB-L1: durable SIGKILL sent to the VMM"
            killed=1
        fi ;;
    esac
done <"$fifo"
wait $pid
rc=$?
rm -f "$fifo"
exit $rc
WRAP
    chmod +x /tmp/lab-kill-at
}

# lab_durable_check WHAT FILE: FILE must hold exactly lab_durable_pattern.
lab_durable_check() {
    local diff at
    if diff=$(lab_durable_pattern | cmp - "$2" 2>&1); then
        echo "LAB-L1: durable $1 acknowledged bytes present=ok"
        return
    fi
    # cmp: "- FILE differ: char N, line L" (N counts from 1), or "EOF on ...".
    at=$(echo "$diff" | sed -n 's/.*differ: char \([0-9]*\).*/\1/p')
    if [ -n "$at" ]; then
        echo "LAB-L1: durable $1 acknowledged bytes present=bad (first difference at byte $((at - 1)))"
    else
        echo "LAB-L1: durable $1 acknowledged bytes present=bad (${diff:-cmp failed})"
    fi
}

l1_before_durable_blk() {
    lab_make_kill_at
    dd if=/dev/zero of=/tmp/lab-durable.img bs=1048576 count=8 2>/dev/null
}

l1_after_durable_blk() {
    lab_durable_check blk /tmp/lab-durable.img
    rm -f /tmp/lab-durable.img /tmp/lab-kill-at
}

l1_before_durable_9p() {
    lab_make_kill_at
    rm -rf /tmp/lab-durable-share
    mkdir -p /tmp/lab-durable-share
}

l1_after_durable_9p() {
    lab_durable_check 9p /tmp/lab-durable-share/durable.bin
    rm -rf /tmp/lab-durable-share /tmp/lab-kill-at
}

# net: a TAP interface in L1 that L2's virtio-net card plugs into.
l1_before_net() {
    tunctl -t lab-tap0 >/dev/null
    ip addr add 192.168.100.1/24 dev lab-tap0
    ip link set lab-tap0 up
}

l1_after_net() {
    tunctl -d lab-tap0 >/dev/null
}

# net_user: a web server on L1's loopback that the guest reaches through
# libslirp at 10.0.2.2. (Clients use busybox nc: the static busybox's wget
# crashes.)
l1_before_net_user() {
    ip link set lo up
    mkdir -p /tmp/lab-www
    echo "lkvm-net-user-ok" >/tmp/lab-www/probe
    # In the foreground (-f) so that $! is the server: its name is
    # "busybox", which killall httpd would never find.
    busybox httpd -f -p 127.0.0.1:8080 -h /tmp/lab-www &
    echo $! >/tmp/lab-httpd.pid
}

l1_after_net_user() {
    kill "$(cat /tmp/lab-httpd.pid)" 2>/dev/null || true
    rm -rf /tmp/lab-www /tmp/lab-httpd.pid
}
