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

# control: the wrapper lab/run puts in front of the VMM (S_WRAP). It starts
# this VM as lab-main (output to a file) and a second one as lab-second, then
# drives both with the control verbs and judges what it sees: every check
# prints "LAB-L1: control NAME=ok|bad". The VMM's output is shown at the end.
l1_before_control() {
    cat >/tmp/lab-control <<'WRAP'
#!/bin/sh
. /lib/lab.sh
lkvm=$1 out=/tmp/lab-control.out out2=/tmp/lab-control-second.out
ticks() { grep -c 'LAB-L2: control tick' "$out"; }
# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds.
wait_for() {
    n=$(($1 * 5)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
    return 1
}
# check NAME ok|bad [WHY]: one judged line, "LAB-L1: control NAME=ok".
check() { if [ "$2" = ok ]; then echo "LAB-L1: control $1=ok"; else echo "LAB-L1: control $1=bad ($3)"; fi; }
"$@" --name lab-main </dev/null >"$out" 2>&1 &
pid=$!
"$@" -c 1 -m 128 --name lab-second </dev/null >"$out2" 2>&1 &
pid2=$!
wait_for 240 grep -q 'LAB-L2: control tick 2 ' "$out" || echo "LAB-L1: control no ticks from lab-main"

list=$("$lkvm" list 2>&1)
echo "$list" | sed 's/^/LAB-L1: control list: /'
if echo "$list" | grep -q '^lab-main .* running' && echo "$list" | grep -q '^lab-second '; then
    check 'list both' ok; else check 'list both' bad "see the table"; fi

"$lkvm" pause lab-main | sed 's/^/LAB-L1: control: /'
before=$(ticks)
sleep 3
echo "LAB-L1: control paused new-ticks=$(($(ticks) - before))"
"$lkvm" list 2>&1 | grep '^lab-main' | sed 's/^/LAB-L1: control list while paused: /'
"$lkvm" debug lab-main >/tmp/lab-control.debug 2>&1
sed 's/^/LAB-L1: control debug: /' /tmp/lab-control.debug
# Both vCPUs, with their instruction pointers (x86 "rip 0123...", arm64 "pc=0x...").
if grep -qE '^vCPU 1( registers)?:' /tmp/lab-control.debug && grep -qE 'rip [0-9a-f]|pc=0x' /tmp/lab-control.debug; then
    check 'debug registers' ok; else check 'debug registers' bad "no register dump"; fi
"$lkvm" resume lab-main | sed 's/^/LAB-L1: control: /'
before=$(ticks)
more_ticks() { [ "$(ticks)" -gt "$before" ]; }
wait_for 30 more_ticks
echo "LAB-L1: control resumed new-ticks=$(($(ticks) - before))"
# The guest clock stands still while paused (x86 kvmclock, arm64 virtual
# counter frozen): in the
# guest's uptime, no gap between ticks comes near the 3+ s of the pause.
gap=$(grep 'LAB-L2: control tick' "$out" | sed 's/.*uptime=//' | awk '
    NR > 1 && $1 - prev > gap { gap = $1 - prev } { prev = $1 } END { printf "%.1f", gap }')
echo "LAB-L1: control largest guest-uptime gap between ticks=${gap}s (paused 3+ s of wall time)"
if awk -v g="$gap" 'BEGIN { exit !(g < 2.5) }'; then check 'clock stopped' ok; else check 'clock stopped' bad "gap ${gap}s"; fi

stat=$("$lkvm" stat lab-main 2>&1)
echo "$stat" | sed 's/^/LAB-L1: control stat: /'
if echo "$stat" | grep -q 'guest memory' && echo "$stat" | grep -q 'host RSS'; then
    check 'stat memory' ok; else check 'stat memory' bad "no figures"; fi

# lkvm stop returns once the VM has let go of its name; then it exits 0.
"$lkvm" stop lab-second >/tmp/lab-control.stop 2>&1
stop=$?
sed 's/^/LAB-L1: control: /' /tmp/lab-control.stop
wait $pid2
rc2=$?
echo "LAB-L1: control lab-second exit=$rc2 ($(grep -c 'LAB-L2:' "$out2") L2 lines)"
if [ $stop = 0 ] && [ $rc2 = 0 ]; then check 'stop second' ok; else check 'stop second' bad "stop=$stop exit=$rc2"; fi
"$lkvm" stop lab-main 2>&1 | sed 's/^/LAB-L1: control: /'
wait $pid
rc=$?
if [ -z "$("$lkvm" list 2>&1 | sed 1d)" ]; then echo "LAB-L1: control list after-stop=empty"; fi
cat "$out"
exit $rc
WRAP
    chmod +x /tmp/lab-control
}

l1_after_control() {
    rm -f /tmp/lab-control /tmp/lab-control.out /tmp/lab-control-second.out /tmp/lab-control.debug /tmp/lab-control.stop
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
