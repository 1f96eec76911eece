# shellcheck shell=bash
# Host-side table of lab scenarios (sourced by lab/run).
#
# scenario_NAME sets, for one VMM invocation inside L1:
#   S_ARGS      extra `lkvm run` arguments (e.g. -c 2)
#   S_PARAMS    extra guest kernel parameters (lab.scenario=NAME is always added)
#   S_EXPECT    extended regexes that must all appear in the scenario's console
#               output (besides "lkvm exit=$S_EXIT") for it to pass
#   S_REJECT    extended regexes that must not appear
#   S_VERB      the lkvm verb: run (default) or sandbox; sandbox boots L2's
#               kernel with L1's root as its read-only root and runs
#               S_COMMAND (an argv) in it instead of L2's initramfs
#   S_EXIT      the VMM's exit status the scenario wants (default 0; 137 for
#               a scenario whose L1 side kills it with SIGKILL)
#   S_INTERACTIVE=1 when the user's terminal drives L2's console
#   S_INPUT_AFTER, S_INPUT  console input for a non-interactive scenario: once
#               a console line contains the text S_INPUT_AFTER, the line
#               S_INPUT (a newline is added) goes to the VMM's stdin (else
#               stdin is /dev/null). Earlier input would be lost: the guest's
#               8250 driver clears the UART's FIFO when it starts.
# The guest side of a scenario is the function scenario_NAME in lab/l2/init.
# NAME_pci is scenario NAME over virtio-pci instead of virtio-mmio: the same
# guest checks and L1 hooks, plus proof that PCI and MSI-X carried it.

scenario_boot() {
    S_EXPECT=('LAB-L2: init reached uptime=' 'LAB-L2: ioapic irqs=[1-9]' 'LAB-L2: serial irqs=[1-9]'
        'LAB-L2: rtc=rtc_cmos.* date=20[2-9][0-9]-')
}

# The same kernel as an uncompressed ELF vmlinux (lab/setup unpacks it from
# the bzImage): lkvm loads its segments and enters startup_64 directly.
scenario_vmlinux() {
    S_KERNEL=$CACHE/kernel-$KVER/vmlinux
    S_EXPECT=('LAB-L2: init reached uptime=' 'LAB-L2: ioapic irqs=[1-9]' 'LAB-L2: serial irqs=[1-9]')
}

scenario_smp() {
    S_ARGS=(-c 2)
    S_EXPECT=('LAB-L2: init reached uptime=' 'LAB-L2: cpus online=0-1$')
}

# The serial console both ways, interrupt driven: L2 announces it is reading,
# L1 types a line, L2 prints what it read and how many serial interrupts the
# read took. The line is fixed (reproducible, and the guest cannot know it: it
# exists only in L1's run script until it is typed), longer than the 16550's
# 16-byte FIFO, and with spaces.
CONSOLE_LINE='lkvm console check: 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'
scenario_console() {
    S_INPUT_AFTER='LAB-L2: console ready'
    S_INPUT=$CONSOLE_LINE
    S_EXPECT=('LAB-L2: console ready' "LAB-L2: console read=$CONSOLE_LINE\$"
        'LAB-L2: console serial irqs=[0-9]+->[0-9]+ \(\+[1-9]')
}

# The guest powers off (poweroff -f in PID 1): lkvm must see ACPI's S5 and
# exit 0. Without a working ACPI power-off the kernel returns to init, which
# then dies: "Kernel panic - not syncing: Attempted to kill init".
scenario_poweroff() {
    S_PARAMS='lab.halt=poweroff'
    S_EXPECT=('LAB-L2: init reached uptime=' 'reboot: Power down')
    S_REJECT=('Kernel panic' 'LAB-L2: still running')
}

# virtio-rng over virtio-mmio, found by the stock kernel through the DSDT
# (LNRO0005): L2 reads /dev/hwrng.
scenario_rng() {
    S_ARGS=(--rng --virtio-transport=mmio)
    S_EXPECT=('LAB-L2: rng current=virtio_rng' 'LAB-L2: rng read=256 bytes'
        'LAB-L2: rng distinct=(1[2-9][0-9]|2[0-5][0-9])$')
}

# virtio-blk over virtio-mmio: L2 reads what L1 wrote, writes what L1 checks
# after lkvm exits (lab/l1/hooks.sh), and cannot write the read-only disk.
scenario_blk() {
    S_ARGS=(--disk=/tmp/lab-vda.img --disk=/tmp/lab-vdb.img,ro --virtio-transport=mmio)
    S_EXPECT=('LAB-L2: blk disks=16384/1' 'LAB-L2: blk read=ok' 'LAB-L2: blk write rc=0'
        'LAB-L2: blk readonly write refused' 'LAB-L1: blk written=ok' 'LAB-L1: blk readonly untouched=ok')
}

# virtio-9p over virtio-mmio: mount, read, write, rename, mkdir, readdir; the
# host's symlinks to a file outside the share must not reach it
# (lab/l1/hooks.sh prepares and checks the share).
scenario_9p() {
    S_ARGS=(--9p=/tmp/lab-share,labshare --virtio-transport=mmio)
    S_EXPECT=('LAB-L2: 9p mounted' 'LAB-L2: 9p read=ok' 'LAB-L2: 9p write,rename,mkdir=ok'
        'LAB-L2: 9p readdir=.*from-l1.bin' 'LAB-L2: 9p escape=refused'
        'LAB-L1: 9p written=ok' 'LAB-L1: 9p mkdir=ok' 'LAB-L1: 9p secret untouched=ok')
    S_REJECT=('9p escape=LEAKED')
}

# virtio-console: the kernel has only console=hvc0; a line typed into lkvm
# after L2 says it is ready comes back through hvc0.
scenario_hvc() {
    S_ARGS=(--console=virtio --virtio-transport=mmio)
    S_PARAMS='console=hvc0'
    S_INPUT_AFTER='LAB-L2: hvc ready'
    S_INPUT='lkvm hvc check 0123456789'
    S_EXPECT=('LAB-L2: hvc ready' 'LAB-L2: hvc read=lkvm hvc check 0123456789$')
}

# virtio-balloon over virtio-mmio: L2's virtio_balloon binds and negotiates its
# three features; with the target at 0 MemTotal does not move. The host side
# (virtqueue trace on lkvm's stderr) shows the features and the statistics
# buffer Linux primes at probe, parsed. Inflating needs a run-time target
# (lkvm balloon), checked once the control verbs exist.
scenario_balloon() {
    S_ARGS=(--balloon --trace-virtio=balloon --virtio-transport=mmio)
    S_EXPECT=('LAB-L2: balloon bound=virtio[0-9]+ device=0x0005'
        'LAB-L2: balloon features must_tell_host=1 stats_vq=1 deflate_on_oom=1 version_1=1'
        'LAB-L2: balloon memtotal kib before=([0-9]+) loaded=\1 after-use=\1 '
        'features 0x[0-9a-f]+ MUST_TELL_HOST\|STATS_VQ\|DEFLATE_ON_OOM\|'
        'q2 note head [0-9]+: stats: [1-9][0-9]* known entries')
    S_REJECT=('DEVICE_NEEDS_RESET' 'lkvm.virtio.balloon')
}

# Durability against the VMM dying: L2 writes 8 MiB (lab_durable_pattern)
# and fsyncs it (busybox dd conv=fsync: the guest's own FLUSH / Tfsync), then
# prints a marker; L1's wrapper (lab/l1/hooks.sh, lab_kill_at) sends SIGKILL
# to lkvm the moment the marker line comes out, and once lkvm is dead
# compares the image (or the shared file) byte for byte with the pattern.
# What the guest was told is durable must be in the host file.
scenario_durable_blk() {
    S_ARGS=(--disk=/tmp/lab-durable.img --virtio-transport=mmio)
    S_WRAP=/tmp/lab-kill-at
    S_EXIT=137
    S_EXPECT=('LAB-L2: durable blk fsync done' 'LAB-L1: durable SIGKILL sent to the VMM'
        'LAB-L1: durable blk acknowledged bytes present=ok')
    S_REJECT=('LAB-L2: durable blk write failed')
}

scenario_durable_9p() {
    S_ARGS=(--9p=/tmp/lab-durable-share,durable --virtio-transport=mmio)
    S_WRAP=/tmp/lab-kill-at
    S_EXIT=137
    S_EXPECT=('LAB-L2: durable 9p fsync done' 'LAB-L1: durable SIGKILL sent to the VMM'
        'LAB-L1: durable 9p acknowledged bytes present=ok')
    S_REJECT=('LAB-L2: durable 9p write failed')
}

# For make bench: virtio-blk and virtio-9p throughput (not in the suite).
scenario_bench_io() {
    S_ARGS=(--disk=/tmp/lab-bench.img --9p=/tmp/lab-bench-share,bench --virtio-transport=mmio)
    S_EXPECT=('LAB-L2: bench blk write MiB/s=[0-9]' 'LAB-L2: bench blk read MiB/s=[0-9]' 'LAB-L2: bench 9p read MiB/s=[0-9]'
        'LAB-L2: bench 9p write MiB/s=[0-9]')
}

# For make bench: the VMM's memory with L2 at /init. L1's wrapper (made by
# l1_before_bench_mem) reads /proc when L2 says it is ready, then tells L2 to go on.
scenario_bench_mem() {
    S_WRAP=/tmp/lab-bench-mem
    S_EXPECT=('LAB-L2: bench mem ready' 'LAB-L1: bench mem vmrss=[0-9]')
}

# The control verbs from L1 (lab/l1/hooks.sh, l1_before_control): a second
# named VM runs beside this one; both are listed; pausing this one stops the
# guest's work (no new tick lines in 3 s) and its clock (no 3 s jump in its
# uptime) and resuming continues them; debug shows registers; stop ends both
# VMs (this one exits 0 through lkvm stop).
scenario_control() {
    S_WRAP=/tmp/lab-control
    S_ARGS=(-c 2)
    S_EXPECT=('LAB-L2: control tick 1 ' 'LAB-L1: control list both=ok' 'LAB-L1: control paused new-ticks=0$'
        'LAB-L1: control resumed new-ticks=[1-9]' 'LAB-L1: control clock stopped=ok'
        'LAB-L1: control debug registers=ok' 'LAB-L1: control sysrq backtrace=ok' 'LAB-L1: control stat memory=ok'
        'LAB-L1: control stop second=ok' 'LAB-L1: control list after-stop=empty')
    S_REJECT=('LAB-L1: control .*=bad')
    # x86's L1 runs L2's kernel: its kallsyms let lkvm debug name functions.
    [[ ${LAB_ARCH:-x86_64} != x86_64 ]] || S_EXPECT+=('LAB-L1: control debug symbols=ok')
}

# virtio-balloon giving memory back: L2 touches 256 MiB and frees it, L1's
# wrapper inflates the balloon by 200 MiB with `lkvm balloon`, waits until
# the guest reports it holds all of it (`lkvm stat`), and sees lkvm's RSS
# drop: the pages were madvised away on the host, not only counted. Each
# `lkvm stat` asks the guest for fresh statistics through the stats queue.
scenario_balloon_rss() {
    S_ARGS=(--balloon --name=lab-balloon -m 512)
    S_WRAP=/tmp/lab-balloon-rss
    S_EXPECT=('LAB-L2: balloon rss done' 'LAB-L1: balloon rss actual-pages=51200'
        'LAB-L1: balloon rss before MiB=[0-9]+ after MiB=[0-9]+ drop MiB=([6-9][0-9]|[1-9][0-9][0-9])$'
        'LAB-L1: balloon rss stat: +free-memory +[1-9][0-9]*$')
    S_REJECT=('no fresh statistics')
}

# virtio-net over a TAP interface L1 made (lab/l1/hooks.sh): L2 pings L1.
scenario_net() {
    S_ARGS=(--network=mode=tap,tapif=lab-tap0,guest_mac=52:54:00:12:34:56 --virtio-transport=mmio)
    S_EXPECT=('LAB-L2: net mac=52:54:00:12:34:56' 'LAB-L2: net ping 3 packets received')
}

# virtio-net through libslirp: DHCP lease, ping the gateway, fetch a file over
# TCP from a server on L1's loopback (lab/l1/hooks.sh).
scenario_net_user() {
    S_ARGS=(--network=mode=user,guest_mac=52:54:00:12:34:57 --virtio-transport=mmio)
    S_EXPECT=('LAB-L2: net-user lease=inet 10.0.2.15' 'LAB-L2: net-user ping 1 packets received'
        'LAB-L2: net-user fetch=lkvm-net-user-ok')
}

# virtio-vsock over virtio-mmio, both directions through host Unix sockets:
# L2 connects to CID 2 port 5000, which reaches L1's server on the VM's
# socket _5000 (l1_before_vsock); L2 listens on port 6000 and L1's wrapper
# connects through the VM's socket with "CONNECT 6000". lkvm must remove
# its socket when it exits.
scenario_vsock() {
    S_ARGS=(--vsock=3,socket=/tmp/lab-vsock --virtio-transport=mmio)
    S_WRAP=/tmp/lab-vsock-wrap
    S_EXPECT=('LAB-L2: vsock guest->host reply=HELLO-FROM-L2$' 'LAB-L2: vsock host->guest served=hello-from-l1$'
        'LAB-L1: vsock host->guest reply=OK [0-9]+ HELLO-FROM-L1$' 'LAB-L1: vsock unix server served=hello-from-l2$'
        'LAB-L1: vsock socket removed')
}

# lkvm sandbox: L2 runs a command with L1's root as its read-only root
# (9p) and a scratch /tmp. The command reads a file L1 made, writes /tmp,
# fails to write /, and exits 7; L1's wrapper (lab/l1/hooks.sh) checks that
# lkvm exits 7 and that nothing on L1's root or in its /tmp changed.
scenario_sandbox() {
    S_VERB=sandbox
    S_WRAP=/tmp/lab-sandbox-wrap
    # The last two words test argv passing: spaces, a quote, $ and a newline.
    S_COMMAND=(sh -c 'echo "LAB-L2: sandbox read=$(cat /etc/lab-sandbox-marker)"
touch /tmp/x && [ -f /tmp/x ] && echo "LAB-L2: sandbox tmp=ok cwd=$(pwd)"
if out=$(touch /lab-sandbox-probe 2>&1); then echo "LAB-L2: sandbox root write=ALLOWED"; else echo "LAB-L2: sandbox root write=refused ($out)"; fi
printf "LAB-L2: sandbox args=[%s] [%s]\n" "$0" "$1" | tr "\n" "|"; echo
exit 7' 'lab sandbox' "it's \$x \"q\"
two")
    S_EXPECT=('LAB-L2: sandbox read=lkvm-sandbox-marker' 'LAB-L2: sandbox tmp=ok cwd=/tmp'
        'LAB-L2: sandbox root write=refused \(.*Read-only file system'
        'LAB-L2: sandbox args=\[lab sandbox\] \[it.s \$x "q"\|two\]\|'
        'LAB-L1: sandbox exit=7' 'LAB-L1: sandbox host unchanged=ok')
    S_REJECT=('root write=ALLOWED' 'lkvm: error' 'lkvm: guest kernel')
}

# trinity (Debian's package, in L1's root) fuzzing syscalls inside lkvm
# sandbox for a bounded count and time. Both a clean exit and a guest
# panic/oops are honest outcomes; the scenario fails only if lkvm crashes,
# hangs or reports no outcome (L1's wrapper judges, lab/l1/hooks.sh).
scenario_trinity() {
    S_VERB=sandbox
    S_WRAP=/tmp/lab-trinity-wrap
    S_ARGS=(-c 2)
    S_COMMAND=(timeout 60 trinity --dangerous -q -N 5000 -C 2 --disable-fds=sockets -x reboot -x kexec_load -x kexec_file_load
        -x init_module -x finit_module -x delete_module -x swapoff -x swapon -x syslog)
    S_EXPECT=('LAB-L1: trinity outcome=(exit [0-9]+|guest kernel|the command did not finish|the command was killed by signal)')
    S_REJECT=('LAB-L1: trinity outcome=missing')
}

scenario_shell() {
    S_INTERACTIVE=1
}

# "custom": no scenario given, only user arguments (lab/run -- -k mykernel ...).
# Passes when the VMM exits 0.
scenario_custom() {
    S_INTERACTIVE=1
}

# The virtio scenarios again over virtio-pci (the pc board's default): the
# stock kernel's virtio_pci driver finds them through the PCI root ACPI
# describes, and uses one MSI-X vector per queue.
for base in rng blk 9p hvc net net_user vsock bench_io balloon durable_blk durable_9p; do
    eval "scenario_${base}_pci() {
        scenario_$base
        S_ARGS=(\"\${S_ARGS[@]/--virtio-transport=mmio/--virtio-transport=pci}\")
        S_EXPECT+=('LAB-L2: virtio-pci functions=[1-9]' 'LAB-L2: virtio-pci .* msix-vectors=[1-9]')
    }"
done
