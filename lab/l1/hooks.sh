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
# After an earlier bench-io in this L1, 700 MiB of free memory is written
# once first: pages the earlier run freed are slow to write the first time
# under TCG (measured: its 9p write of a new 64 MiB file fell from 55-70 to
# 17-19 MiB/s, whatever the transport; with this, 77-85), so the second
# run would measure L1's past rather than the VMM (docs/performance.md).
l1_before_bench_io() {
    if [ -e /tmp/lab-bench-ran ]; then
        dd if=/dev/zero of=/tmp/lab-bench-wash bs=1048576 count=700 2>/dev/null
        rm -f /tmp/lab-bench-wash
    fi
    touch /tmp/lab-bench-ran
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
# x86: L1 runs the very kernel L2 boots, so L1's /proc/kallsyms (another
# boot, another KASLR slide) is L2's symbol table; lkvm undoes the slide.
# arm64's L1 runs the cloud flavour, which is not L2's kernel.
symbols=
if [ "$(uname -m)" = x86_64 ]; then
    cat /proc/kallsyms >/tmp/lab-kallsyms
    symbols="--symbols=/tmp/lab-kallsyms"
fi
"$@" --name lab-main $symbols </dev/null >"$out" 2>&1 &
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
# With symbols, lkvm names the function each vCPU is in (L2's KASLR slide
# found through LSTAR and undone).
if [ -n "$symbols" ]; then
    if grep -q 'kernel symbols: /tmp/lab-kallsyms' /tmp/lab-control.debug &&
        [ "$(grep -cE '^  ip 0x[0-9a-f]+ = [A-Za-z_][A-Za-z0-9_.]*\+0x' /tmp/lab-control.debug)" = 2 ]; then
        check 'debug symbols' ok; else check 'debug symbols' bad "no function named for both vCPUs"; fi
fi
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

# A magic SysRq through the serial console (a break, then "l"): L2's kernel
# prints every CPU's backtrace on its console.
"$lkvm" debug lab-main --sysrq l 2>&1 | tail -n 1 | sed 's/^/LAB-L1: control: /'
if wait_for 30 grep -q 'sysrq: Show backtrace of all active CPUs' "$out"; then
    check 'sysrq backtrace' ok; else check 'sysrq backtrace' bad "no SysRq answer on the guest console"; fi

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
[ $rc2 = 0 ] || grep -v 'LAB-L2:' "$out2" | tail -5 | sed 's/^/LAB-L1: control lab-second said: /'
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
    rm -f /tmp/lab-control /tmp/lab-control.out /tmp/lab-control-second.out /tmp/lab-control.debug /tmp/lab-control.stop \
        /tmp/lab-kallsyms
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

# vsock: L1's Unix server for guest connections to host port 5000 (the VM's
# socket + "_5000"), and the wrapper (S_WRAP) that, once L2 listens on vsock
# port 6000, connects through the VM's socket with "CONNECT 6000" and a line,
# then reports the answer and whether lkvm removed its socket at exit.
l1_before_vsock() {
    rm -f /tmp/lab-vsock /tmp/lab-vsock_5000
    vsock-tool unix-listen /tmp/lab-vsock_5000 >/tmp/lab-vsock-server.out 2>&1 &
    echo $! >/tmp/lab-vsock-server.pid
    i=0
    while [ $i -lt 50 ] && [ ! -S /tmp/lab-vsock_5000 ]; do sleep 0.1; i=$((i + 1)); done
    cat >/tmp/lab-vsock-wrap <<'WRAP'
#!/bin/sh
out=/tmp/lab-vsock-wrap.out
rm -f "$out"
"$@" </dev/null >"$out" 2>&1 &
pid=$!
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null && ! grep -q 'LAB-L2: vsock listening' "$out"; do
    sleep 0.1
    i=$((i + 1))
done
reply=$(vsock-tool unix-connect /tmp/lab-vsock "CONNECT 6000" hello-from-l1 2>&1 | tr '\n' ' ')
wait $pid
rc=$?
cat "$out"
echo "LAB-L1: vsock host->guest reply=${reply% }"
if [ -e /tmp/lab-vsock ]; then echo "LAB-L1: vsock socket left behind"; else echo "LAB-L1: vsock socket removed"; fi
exit $rc
WRAP
    chmod +x /tmp/lab-vsock-wrap
}

l1_after_vsock() {
    kill "$(cat /tmp/lab-vsock-server.pid)" 2>/dev/null || true
    echo "LAB-L1: vsock unix server $(grep served /tmp/lab-vsock-server.out | head -n1)"
    rm -f /tmp/lab-vsock-wrap /tmp/lab-vsock-wrap.out /tmp/lab-vsock-server.out /tmp/lab-vsock-server.pid \
        /tmp/lab-vsock_5000
}

# sandbox: a file on L1's root that L2 reads through the read-only 9p root,
# and a wrapper around lkvm sandbox that checks its exit status (the
# command's 7) and that L1's root and /tmp are as they were (the scratch
# directory lkvm made in /tmp is gone again).
lab_tree_sum() { { find / -xdev; ls -A /tmp; } 2>/dev/null | sort | md5sum; }
l1_before_sandbox() {
    echo lkvm-sandbox-marker >/etc/lab-sandbox-marker
    cat >/tmp/lab-sandbox-wrap <<'WRAP'
#!/bin/sh
. /lib/lab-hooks.sh
before=$(lab_tree_sum)
"$@"
rc=$?
echo "LAB-L1: sandbox exit=$rc"
if [ "$(lab_tree_sum)" = "$before" ] && [ ! -e /lab-sandbox-probe ]; then
    echo "LAB-L1: sandbox host unchanged=ok"
else
    echo "LAB-L1: sandbox host changed: $(ls -la / /tmp | tr '\n' ' ')"
fi
[ $rc = 7 ]
WRAP
    chmod +x /tmp/lab-sandbox-wrap
}

l1_after_sandbox() {
    rm -f /etc/lab-sandbox-marker /tmp/lab-sandbox-wrap
}

# trinity: the wrapper passes when lkvm exited on its own (no signal, not
# killed by the scenario's time limit) and reported an outcome: trinity's
# own exit status, or lkvm's "guest kernel ..." / "the command did not
# finish" line for 125 and 126. A status of 128+N is lkvm's death by signal N
# unless lkvm said that trinity itself was killed by it (trinity's own
# segfaults happen, and are trinity's).
l1_before_trinity() {
    cat >/tmp/lab-trinity-wrap <<'WRAP'
#!/bin/sh
"$@" 2>/tmp/lab-trinity.err
rc=$?
cat /tmp/lab-trinity.err
report=$(grep -E '^lkvm: (guest kernel|the command did not finish)' /tmp/lab-trinity.err | head -n1)
killed=$(grep -E '^lkvm: the command was killed by signal' /tmp/lab-trinity.err | head -n1)
if [ $rc -ge 128 ] && [ -n "$killed" ]; then
    echo "LAB-L1: trinity outcome=${killed#lkvm: }"
    exit 0
elif [ $rc -ge 128 ]; then
    echo "LAB-L1: trinity outcome=missing (lkvm exit $rc: killed or crashed)"
    exit 1
elif [ $rc = 125 ] || [ $rc = 126 ]; then
    if [ -n "$report" ]; then echo "LAB-L1: trinity outcome=${report#lkvm: }"; exit 0; fi
    echo "LAB-L1: trinity outcome=missing (lkvm exit $rc with no report)"
    exit 1
fi
echo "LAB-L1: trinity outcome=exit $rc (trinity's status)"
exit 0
WRAP
    chmod +x /tmp/lab-trinity-wrap
}

l1_after_trinity() {
    rm -f /tmp/lab-trinity-wrap /tmp/lab-trinity.err
}

# balloon_rss: the wrapper (S_WRAP) runs lkvm with its stdin on a FIFO; once
# L2 has touched and freed 256 MiB it reads lkvm's VmRSS, inflates the
# balloon by 200 MiB, waits (bounded) until the guest reports 51200 pages
# in it, reads VmRSS again and lets L2 finish.
l1_before_balloon_rss() {
    cat >/tmp/lab-balloon-rss <<'WRAP'
#!/bin/sh
out=/tmp/lab-balloon-rss.out fifo=/tmp/lab-balloon-rss.in lkvm=$1
rm -f "$out" "$fifo"
mkfifo "$fifo"
exec 3<>"$fifo"
"$@" <&3 >"$out" 2>&1 &
pid=$!
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null && ! grep -q 'LAB-L2: balloon rss ready' "$out"; do
    sleep 0.1
    i=$((i + 1))
done
rss() { awk '/^VmRSS:/ { print int($2 / 1024) }' /proc/$pid/status; }
before=$(rss)
"$lkvm" balloon lab-balloon --inflate 200 2>&1 | sed 's/^/LAB-L1: balloon rss: /'
i=0
while [ $i -lt 600 ] && ! "$lkvm" stat lab-balloon 2>/dev/null | grep -q 'actual-pages  51200$'; do
    sleep 0.2
    i=$((i + 1))
done
"$lkvm" stat lab-balloon 2>&1 | sed 's/^/LAB-L1: balloon rss stat: /'
actual=$("$lkvm" stat lab-balloon 2>/dev/null | awk '$1 == "actual-pages" { print $2 }')
echo "LAB-L1: balloon rss actual-pages=$actual"
after=$(rss)
echo go >&3
wait $pid
rc=$?
cat "$out"
echo "LAB-L1: balloon rss before MiB=$before after MiB=$after drop MiB=$((before - after))"
exit $rc
WRAP
    chmod +x /tmp/lab-balloon-rss
}

l1_after_balloon_rss() {
    rm -f /tmp/lab-balloon-rss /tmp/lab-balloon-rss.out /tmp/lab-balloon-rss.in
}
