#!/usr/bin/env python3
"""Writes a minimal bzImage whose 64-bit entry runs hand-assembled code: the
boot-protocol header lkvm checks, one setup sector, and a payload. Used by the
benchmark and the end-to-end smoke test on hosts that cannot boot Linux.

  tiny-bzimage.py OUT [--exits N]

The guest does N `out 0x80, al` port exits, then asks the i8042 for a reset
(port 0x64 <- 0xfe), which makes lkvm exit 0."""
import struct, sys

def build(exits, wait=False):
    setup_sects = 1
    code = bytearray()
    if exits > 0:
        code += b"\xb9" + struct.pack("<I", exits)   # mov ecx, N
        loop = len(code)
        code += b"\xe6\x80"                           # out 0x80, al
        code += b"\xff\xc9"                           # dec ecx
        code += b"\x75" + bytes([(loop - (len(code) + 2)) & 0xff])  # jnz loop
    if wait:
        code += b"\x66\xba\xf8\x03"                   # mov dx, 0x3f8 (COM1 THR)
        for ch in b"tiny-ready\n":
            code += b"\xb0" + bytes([ch]) + b"\xee"     # mov al, ch; out dx, al
        code += b"\xfa"                               # cli
    else:
        code += b"\xb0\xfe\xe6\x64"                   # mov al, 0xfe; out 0x64, al
    code += b"\xf4\xeb\xfd"                           # hlt; jmp hlt
    payload = bytearray(0x200) + code                 # 64-bit entry at +0x200
    payload += bytearray((-len(payload)) % 16)
    image = bytearray(512 * (setup_sects + 1))
    image[0x1F1] = setup_sects
    struct.pack_into("<I", image, 0x1F4, len(payload) // 16)   # syssize
    struct.pack_into("<H", image, 0x1FE, 0xAA55)              # boot_flag
    image[0x200:0x202] = b"\xeb\x66"                           # jump over the header
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", image, 0x206, 0x020F)              # protocol 2.15
    image[0x211] = 0x01                                        # loadflags: LOADED_HIGH
    struct.pack_into("<I", image, 0x214, 0x100000)            # code32_start
    struct.pack_into("<I", image, 0x22C, 0x7FFFFFFF)          # initrd_addr_max
    struct.pack_into("<I", image, 0x230, 0x200000)            # kernel_alignment
    image[0x234] = 1                                           # relocatable
    struct.pack_into("<H", image, 0x236, 0x0001)              # xloadflags: XLF_KERNEL_64
    struct.pack_into("<I", image, 0x238, 2047)                # cmdline_size
    struct.pack_into("<Q", image, 0x258, 0x1000000)           # pref_address
    struct.pack_into("<I", image, 0x260, 0x100000)            # init_size
    return bytes(image + payload)

if __name__ == "__main__":
    exits = int(sys.argv[sys.argv.index("--exits") + 1]) if "--exits" in sys.argv else 0
    with open(sys.argv[1], "wb") as f:
        f.write(build(exits, "--wait" in sys.argv))
