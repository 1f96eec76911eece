# shellcheck shell=sh
# arm64 L1 settings, sourced by lab/l1/init (as /lib/lab-arch.sh) before it
# opens its console. QEMU 7.2's virt machine has a single PL011: that is L1's
# kernel console (ttyAMA0, logged to a file by lab/run). The marker console,
# which is also the VMM's stdin/stdout, is a virtio console (hvc0) on
# virtio-mmio. KVM is built into the arm64 kernel: no module to load.
load_modules virtio_mmio virtio_console || echo "LAB-L1: lab fault: cannot load virtio_console" >/dev/kmsg
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    [ -c /dev/hvc0 ] && break
    sleep 0.1
done
LAB_CONSOLE=/dev/hvc0
LAB_KVM_MODULES=tun

