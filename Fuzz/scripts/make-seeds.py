#!/usr/bin/env python3
"""Writes the virtqueue and loader seeds of Fuzz/corpus (run from the repo root).

Layouts follow Fuzz/Targets/FuzzSupport/FuzzGuest.swift: queue i of size n at
512*i (descriptor table, available ring, used ring), guest RAM from 0.
"""
import os, struct

def ring(size, heads, table):
    """Queue memory: descriptor table entries (addr, len, flags, next), then avail ring."""
    mem = bytearray(512)
    for i, (addr, length, flags, nxt) in enumerate(table):
        struct.pack_into('<QIHH', mem, 16 * i, addr, length, flags, nxt)
    avail = 16 * size
    struct.pack_into('<HH', mem, avail, 0, len(heads))
    for slot, head in enumerate(heads):
        struct.pack_into('<H', mem, avail + 4 + 2 * slot, head)
    return mem

NEXT, WRITE, INDIRECT = 1, 2, 4
VERSION1, INDIRECT_F, EVENT_IDX = 1 << 32, 1 << 28, 1 << 29

def device_input(queues, data, features=VERSION1, rounds=1, extra=b''):
    """Header of fuzzDevice, then RAM: queues at 512*i, `data` {address: bytes}."""
    mem = bytearray(0x3000)
    for i, q in enumerate(queues):
        mem[512 * i:512 * i + 512] = q
    for address, blob in data.items():
        mem[address:address + len(blob)] = blob
    return bytes([3]) + struct.pack('<Q', features) + bytes([rounds - 1, len(extra)]) + extra + bytes(mem)

def write(target, name, blob):
    path = f'Fuzz/corpus/{target}'
    os.makedirs(path, exist_ok=True)
    with open(f'{path}/{name}', 'wb') as f:
        f.write(blob)

# virtio-blk (queue size 8): IN, OUT, FLUSH, GET_ID, and one through an indirect table.
for name, kind, sector in [('in', 0, 0), ('out', 1, 3), ('flush', 4, 0), ('get-id', 8, 0), ('in-past-end', 0, 200)]:
    header = struct.pack('<IIQ', kind, 0, sector)
    data_flags = WRITE if kind != 1 else 0
    q = ring(8, [0], [(0x2000, 16, NEXT, 1), (0x2100, 512, NEXT | data_flags, 2), (0x2400, 1, WRITE, 0)])
    write('FuzzVirtioBlock', f'blk-{name}', device_input([q], {0x2000: header, 0x2100: b'\x5a' * 512}))
q = ring(8, [0], [(0x2800, 48, INDIRECT, 0)])
table = struct.pack('<QIHH', 0x2000, 16, NEXT, 1) + struct.pack('<QIHH', 0x2100, 512, NEXT | WRITE, 2) + \
        struct.pack('<QIHH', 0x2400, 1, WRITE, 0)
write('FuzzVirtioBlock', 'blk-indirect', device_input([q], {0x2000: struct.pack('<IIQ', 0, 0, 1), 0x2800: table},
                                                       features=VERSION1 | INDIRECT_F))

# virtio-net: receive buffers on queue 0, a transmit chain (header + frame) on queue 1.
frame = bytes(12) + b'\xff' * 6 + b'\x02\x00\x00\x00\x00\x01' + b'\x08\x06' + bytes(28)
rx = ring(8, [0, 1], [(0x2000, 1526, WRITE, 0), (0x2800, 16, WRITE | NEXT, 2), (0x2900, 64, WRITE, 0)])
tx = ring(8, [0, 1], [(0x1000, 12, NEXT, 1), (0x1100, len(frame) - 12, 0, 0), (0x1200, len(frame), 0, 0)])
write('FuzzVirtioNet', 'net-tx-rx', device_input([rx, tx], {0x1000: frame[:12], 0x1100: frame[12:], 0x1200: frame},
                                                 rounds=2, extra=frame))
write('FuzzVirtioNet', 'net-event-idx', device_input([rx, tx], {0x1000: frame[:12], 0x1100: frame[12:]},
                                                     features=VERSION1 | EVENT_IDX, rounds=3, extra=frame[:20]))

# virtio-console: receive buffers on queue 0, output on queue 1.
rx = ring(8, [0], [(0x2000, 64, WRITE, 0)])
tx = ring(8, [0, 1], [(0x1000, 6, NEXT, 1), (0x1100, 4, 0, 0)])
write('FuzzVirtioConsole', 'console-both', device_input([rx, tx], {0x1000: b'hello ', 0x1100: b'you\n'},
                                                        rounds=2, extra=b'typed\r'))

# virtio-rng: writable buffers.
q = ring(8, [0, 1], [(0x2000, 64, WRITE, 0), (0x2100, 16, WRITE | NEXT, 2), (0x2200, 4096, WRITE, 0)])
write('FuzzVirtioRNG', 'rng-two', device_input([q], {}))

# The bare virtqueue: header (size, three offsets, features, chain limit), then RAM.
def queue_input(size, heads, table, features=VERSION1, data={}):
    q = ring(size, heads, table)
    used = (16 * size + 6 + 2 * size + 3) & ~3
    mem = bytearray(0x3000)
    mem[:512] = q
    for address, blob in data.items():
        mem[address:address + len(blob)] = blob
    return struct.pack('<HHHHQB', size, 0, 16 * size, used, features, 16) + bytes(mem)

write('FuzzVirtQueue', 'chain', queue_input(8, [0, 3], [(0x1000, 100, NEXT, 1), (0x1100, 200, WRITE, 0),
                                                        (0, 0, 0, 0), (0x1200, 8, 0, 0)]))
write('FuzzVirtQueue', 'indirect', queue_input(8, [0], [(0x2000, 32, INDIRECT, 0)], features=VERSION1 | INDIRECT_F,
                                               data={0x2000: struct.pack('<QIHH', 0x1000, 10, NEXT, 1)
                                                     + struct.pack('<QIHH', 0x1100, 10, WRITE, 0)}))
write('FuzzVirtQueue', 'event-idx', queue_input(16, [5, 6, 7], [(0x1000 + 64 * i, 64, WRITE, 0) for i in range(16)],
                                                features=VERSION1 | EVENT_IDX))

# virtio-9p: Tversion (readable) and room for the reply (writable), queue 0.
tversion = struct.pack('<IBHIH', 21, 100, 0xFFFF, 8192, 8) + b'9P2000.L'
q = ring(8, [0], [(0x1000, len(tversion), NEXT, 1), (0x2000, 256, WRITE, 0)])
write('FuzzVirtioNineP', 'tversion', device_input([q], {0x1000: tversion}))

# A tiny bzImage: one setup sector, a 528-byte payload, protocol 2.15, 64-bit entry.
setup = bytearray(1024)
setup[0x1F1] = 1                                   # setup_sects
struct.pack_into('<I', setup, 0x1F4, 33)           # syssize (16-byte units)
struct.pack_into('<H', setup, 0x1FE, 0xAA55)
setup[0x202:0x206] = b'HdrS'
struct.pack_into('<H', setup, 0x206, 0x020F)
setup[0x211] = 0x01                                # loadflags: LOADED_HIGH
setup[0x234] = 1                                   # relocatable_kernel
struct.pack_into('<H', setup, 0x236, 0x0003)       # xloadflags: KERNEL_64, CAN_BE_LOADED_ABOVE_4G
struct.pack_into('<I', setup, 0x230, 0x200000)     # kernel_alignment
struct.pack_into('<Q', setup, 0x258, 0x1000000)    # pref_address
struct.pack_into('<I', setup, 0x260, 0x10000)      # init_size
write('FuzzBzImage', 'tiny-bzimage', bytes(setup) + b'\x90' * 528)
