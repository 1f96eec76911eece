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
