# shellcheck shell=sh
# arm64 guest checks, sourced by lab/l2/init (as /lib/lab-arch.sh) after its
# own scenario functions: these replace the x86-specific ones. The virtio
# scenarios (rng, blk, 9p, hvc, net_user) are shared as they are.

# boot: userspace reached, interrupts through the GICv3, the console UART
# (PL011 ttyAMA0 on virt, 8250 ttyS0 on kvmtool-arm64) interrupt driven, the
# clock from lkvm's PL031 RTC.
scenario_boot() {
    echo "LAB-L2: gic irqs=$(grep -c GICv3 /proc/interrupts)"
    echo "LAB-L2: serial irqs=$(awk '/pl011|serial|ttyS|ttyAMA/ { print $2; exit }' /proc/interrupts)"
    echo "LAB-L2: irq lines: $(grep -E 'pl011|serial|ttyS|ttyAMA|virtio|rtc' /proc/interrupts | tr -s ' ' | tr '\n' ';')"
    echo "LAB-L2: console=$(cat /sys/class/tty/console/active 2>/dev/null)"
    echo "LAB-L2: rtc=$(cat /sys/class/rtc/rtc0/name 2>/dev/null) date=$(date -u +%Y-%m-%d)"
}

# console: on arm64 the scenario is the virtio console (hvc0), both ways.
scenario_console() { scenario_hvc; }

# Run by lab/l2/init after every scenario: which interrupts the virtio
# devices got (SPIs for virtio-mmio and INTx, ITS MSIs for MSI-X).
lab_arch_after() {
    echo "LAB-L2: virtio irqs: $(grep virtio /proc/interrupts | tr -s ' ' | tr '\n' ';')"
}
