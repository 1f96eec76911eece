# shellcheck shell=bash
# The ARM64 lab's settings and hooks for lab/run (sourced when LAB_ARCH=arm64,
# which lab/arm64/run sets): an arm64 L1 under qemu-system-aarch64 (TCG,
# virtualization=on: L1's kernel runs at EL2 and its built-in KVM is real),
# the aarch64 lkvm inside it booting an arm64 L2.
ACACHE=$CACHE/arm64
L1_BASE=$ACACHE/l1-base.cpio.gz L2_KERNEL=/lab/Image LAB_LKVM_ARCH=arm64 LAB_BOARD=${LAB_BOARD:-virt}
LKVM_DEFAULT=$REPO_DIR/.build-aarch64/release/lkvm LKVM_BUILD='make aarch64'
AARCH64_SYSROOT=${LKVM_AARCH64_CACHE:-/var/cache/lkvm-aarch64}/sysroot

lab_setup() { "$LAB_DIR/arm64/setup"; source "$ACACHE/kernel.env"; }

# An aarch64 binary: its libraries come from the sysroot it was linked
# against (scripts/build-aarch64), found through DT_NEEDED.
lab_stage_lkvm() {
    [[ $(file -b "$LKVM") == *"ARM aarch64"* ]] || die "$LKVM is not an aarch64 binary (build one: make aarch64)"
    [[ -d $AARCH64_SYSROOT ]] || die "no aarch64 sysroot at $AARCH64_SYSROOT (make aarch64 makes it)"
    copy_with_sysroot_libs "$1" "$AARCH64_SYSROOT" "$LKVM" /lab/lkvm
    local lib
    for lib in "${LKVM_DLOPEN_LIBS[@]}"; do
        [[ -e $AARCH64_SYSROOT/usr/lib/aarch64-linux-gnu/$lib ]] || die "lkvm loads $lib, which is not in $AARCH64_SYSROOT"
        copy_with_sysroot_libs "$1" "$AARCH64_SYSROOT" "$AARCH64_SYSROOT/usr/lib/aarch64-linux-gnu/$lib" \
            "/lib/aarch64-linux-gnu/$lib"
    done
    local objcopy
    for objcopy in /opt/swift/usr/bin/llvm-objcopy "$(command -v llvm-objcopy || true)"; do
        if [[ -x $objcopy ]]; then "$objcopy" --strip-debug "$1/lab/lkvm"; break; fi
    done
}

# L1's kernel console is the PL011 (to KLOG); "con" is a virtio console
# (hvc0 in L1, see lab/arm64/l1.sh). pauth-impdef=on: QEMU's default pointer
# authentication emulation makes an L2 boot 3x slower.
lab_qemu() {
    qemu=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max,pauth-impdef=on
        -accel tcg,thread=multi -smp 2 -m 3G -nodefaults -display none -no-reboot
        -kernel "$L1_IMAGE" -initrd "$WORK/initrd"
        -append "console=ttyAMA0 quiet panic=-1 nokaslr" -monitor "unix:$WORK/monitor.sock,server=on,wait=off"
        -device virtio-serial-device -device virtconsole,chardev=con)
    serials=(-chardev "file,id=klog,path=$2" -serial chardev:klog)
}

# --- arm64 scenarios (the table in lab/scenarios.sh, adjusted) ---------------
# version: the plumbing without the KVM backend: lkvm runs in L1 and writes
# the device tree the boot would use (same arguments, the lab's Image and
# initrd); L1 checks it starts with the FDT magic.
scenario_version() {
    S_WRAP=/bin/lab-version # lab/arm64/l1-version
    S_EXPECT=('LAB-L1: lkvm version=lkvm [0-9]' 'LAB-L1: dtb rc=0 magic=d00dfeed size=[1-9]')
}

scenario_boot() {
    # The UART's interrupt must be wired (an SPI through the GICv3). Its
    # count may stay 0: with "quiet" the PL011 driver writes its FIFO
    # directly and needs no TX interrupt (the 8250 does).
    local uart='uart-pl011' rtc='rtc-pl031' con=ttyAMA0
    [[ $LAB_BOARD == kvmtool* ]] && uart='(serial|ttyS)' con=ttyS0
    S_EXPECT=('LAB-L2: init reached uptime=' 'LAB-L2: gic irqs=[1-9]' "LAB-L2: irq lines:.* GICv3 [0-9]+ Level $uart"
        "LAB-L2: irq lines:.* GICv3 [0-9]+ Level $rtc"
        "LAB-L2: console=.*$con" "LAB-L2: rtc=$rtc.* date=20[2-9][0-9]-")
}

# console: the virtio console (hvc0), both ways (lab/arm64/l2.sh).
scenario_console() {
    scenario_hvc
}

# PSCI SYSTEM_OFF ends lkvm with exit 0.
scenario_poweroff() {
    S_PARAMS='lab.halt=poweroff'
    S_EXPECT=('LAB-L2: init reached uptime=' 'reboot: Power down')
    S_REJECT=('Kernel panic' 'LAB-L2: still running')
}

for base in console; do
    eval "scenario_${base}_pci() {
        scenario_$base
        S_ARGS=(\"\${S_ARGS[@]/--virtio-transport=mmio/--virtio-transport=pci}\")
        S_EXPECT+=('LAB-L2: virtio-pci functions=[1-9]' 'LAB-L2: virtio-pci .* msix-vectors=[1-9]')
    }"
done
