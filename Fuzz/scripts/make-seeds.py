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

# The control socket: one valid request line per verb, then malformed ones.
for name, line in [('list', b'{"version":1,"verb":"list"}'), ('stop', b'{"version":1,"verb":"stop"}'),
                   ('pause', b'{"version":1,"verb":"pause"}'), ('resume', b'{"version":1,"verb":"resume"}'),
                   ('stat', b'{"version":1,"verb":"stat"}'),
                   ('debug', b'{"version":1,"verb":"debug","sysrq":"w","nmi":true}'),
                   ('balloon-inflate', b'{"version":1,"verb":"balloon","inflate_mib":200}'),
                   ('balloon-deflate', b' {"verb":"balloon","version":1,"deflate_mib":64} '),
                   ('bad-version', b'{"version":2,"verb":"list"}'),
                   ('bad-verb', b'{"version":1,"verb":"reboot\\u00e9\\ud83d\\ude00"}'),
                   ('bad-balloon', b'{"version":1,"verb":"balloon","inflate_mib":1,"deflate_mib":1}'),
                   ('bad-sysrq', b'{"version":1,"verb":"debug","sysrq":"ww","extra":[1.5e3,-0,null,{"a":[]}]}'),
                   ('bad-json', b'{"version":1,"verb":"list"'), ('deep', b'[' * 20 + b']' * 20),
                   ('response', b'{"version":1,"ok":false,"error":"tab\\there\\n"}')]:
    write('FuzzControlRequest', name, line)

# virtio-vsock: guest CID 3, rx buffers on queue 0, packets on tx (queue 1).
def vsock(op, src_port, dst_port, payload=b'', flags=0, src_cid=3, kind=1):
    return struct.pack('<QQIIIHHIII', src_cid, 2, src_port, dst_port, len(payload), kind, op, flags,
                       65536, 0) + payload
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = 1, 2, 3, 4, 5, 6, 7
rx = ring(8, list(range(4)), [(0x2000 + 0x100 * i, 0x100, WRITE, 0) for i in range(4)])
# A guest stream to the host service (port 1024): REQUEST, data, credit; the service answers in
# the next round. Then the same with SHUTDOWN and a packet for no stream.
packets = [vsock(REQUEST, 5000, 1024), vsock(RW, 5000, 1024, b'hello host'), vsock(CREDIT_REQUEST, 5000, 1024)]
for name, tail in [('guest-stream', []), ('guest-stream-shutdown', [vsock(SHUTDOWN, 5000, 1024, flags=3),
                                                                    vsock(RW, 7, 9, b'x')])]:
    sent = packets + tail
    tx = ring(8, list(range(len(sent))), [(0x1000 + 0x80 * i, len(p), 0, 0) for i, p in enumerate(sent)])
    data = {0x1000 + 0x80 * i: p for i, p in enumerate(sent)}
    write('FuzzVirtioVsock', name, device_input([rx, tx], data, rounds=3, extra=b'from the service'))
# A host client asks for guest port 5000 (host port 2^30); the guest accepts, reads, sends
# (header and payload in two descriptors), then half-closes or resets.
header = vsock(RW, 5000, 1 << 30, b'split payload')
for name, last in [('host-stream', vsock(SHUTDOWN, 5000, 1 << 30, flags=2)), ('host-stream-rst', vsock(RST, 5000, 1 << 30))]:
    packets = [vsock(RESPONSE, 5000, 1 << 30), vsock(CREDIT_UPDATE, 5000, 1 << 30), vsock(RW, 5000, 1 << 30, b'hi'), last]
    tx = ring(8, [0, 1, 2, 4, 3], [(0x1000 + 0x80 * i, len(p), 0, 0) for i, p in enumerate(packets)]
              + [(0x1400, 44, NEXT, 5), (0x1500, 13, 0, 0)])
    data = {0x1000 + 0x80 * i: p for i, p in enumerate(packets)}
    data.update({0x1400: header[:44], 0x1500: header[44:]})
    write('FuzzVirtioVsock', name, device_input([rx, tx], data, rounds=3, extra=b'CONNECT 5000\nhello guest'))
# Garbage: short, wrong source, wrong type, unknown op, a length beyond the chain.
packets = [b'\x03' * 10, vsock(REQUEST, 1, 2, src_cid=7), vsock(REQUEST, 1, 2, kind=2), vsock(99, 1, 2),
           vsock(RW, 1, 2)[:24] + struct.pack('<I', 0xFFFFFFFF) + vsock(RW, 1, 2)[28:]]
tx = ring(8, list(range(len(packets))), [(0x1000 + 0x80 * i, len(p), 0, 0) for i, p in enumerate(packets)])
data = {0x1000 + 0x80 * i: p for i, p in enumerate(packets)}
write('FuzzVirtioVsock', 'garbage', device_input([rx, tx], data))

# virtio-balloon: PFNs on inflateq (0) and deflateq (1), statistics on statsq (2).
# Guest RAM is pages 0-7 and 16-23; 0x99999 is wild. Host input: target, actual offset, size, value.
pfns = struct.pack('<6I', 4, 5, 6, 17, 18, 0x99999)
inflate = ring(8, [0, 1], [(0x1000, len(pfns), 0, 0), (0x1100, 6, 0, 0)])
deflate = ring(8, [0], [(0x1200, 8, 0, 0)])
stats = b''.join(struct.pack('<HQ', tag, 1000 * tag) for tag in (0, 4, 5, 99, 4))
statsq = ring(8, [0, 1], [(0x1300, len(stats), 0, 0), (0x1300, 20, 0, 0)])
host = bytes([8 + 0, 4, 2]) + struct.pack('<Q', 3)
write('FuzzVirtioBalloon', 'inflate-deflate-stats',
      device_input([inflate, deflate, statsq], {0x1000: pfns, 0x1100: b'\x11\x00\x00\x00\x12\x00',
                                                0x1200: struct.pack('<2I', 4, 17), 0x1300: stats},
                   features=VERSION1 | 7, rounds=3, extra=host))
write('FuzzVirtioBalloon', 'stats-only', device_input([ring(8, [], []), ring(8, [], []), statsq], {0x1300: stats},
                                                      features=VERSION1 | 2, rounds=2, extra=host))
