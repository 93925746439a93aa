#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# Writes the seed corpora of tests/fuzz/corpus: well-formed inputs each
# target's fuzzer starts from (run it again after changing an input format).
import os
import struct
import sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def gaddr(ref, off=0):
    return (1 << 63) | (ref << 12) | off


# ---- fuzz-blk: flags, features, 16 compact descriptors, the ring, the pages ----
NEXT, WRITE, INDIRECT = 1, 2, 4
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13
FEATURES = (1 << 28 | 1 << 29) >> 24, (1 << 9 | 1 << 13 | 1 << 14 | 1 << 1 | 1 << 2)


def blk_seed(flags, reqs, indirect=False):
    """reqs: (type, sector, data_len, data_writable, extra) per request."""
    descs, ring = [], []
    pages = bytearray(16 * 4096)
    for i, (typ, sector, dlen, dwrite, extra) in enumerate(reqs):
        hdr_off = i * 128
        struct.pack_into('<IIQ', pages, hdr_off, typ, 0, sector)
        if extra:
            pages[hdr_off + 16:hdr_off + 16 + len(extra)] = extra
        head = len(descs)
        ring.append(head)
        chain = [(1, hdr_off, 16, 0)]
        if dlen:
            if extra:
                chain.append((1, hdr_off + 16, dlen, 0))
            else:
                chain.append((2 + i, 0, dlen, WRITE if dwrite else 0))
        chain.append((1, hdr_off + 100, 1, WRITE))
        if indirect:
            table = bytearray()
            for k, (ref, off, ln, fl) in enumerate(chain):
                fl |= NEXT if k + 1 < len(chain) else 0
                table += struct.pack('<QIHH', gaddr(ref, off), ln, fl, k + 1)
            toff = 0x800 + i * 64
            pages[0x1000 * 5 + toff:0x1000 * 5 + toff + len(table)] = table
            descs.append((6, toff, len(table), INDIRECT, 0))
        else:
            for k, (ref, off, ln, fl) in enumerate(chain):
                last = k + 1 == len(chain)
                descs.append((ref, off, ln, fl | (0 if last else NEXT),
                              0 if last else len(descs) + 1))
    b = bytes([flags, FEATURES[0]]) + struct.pack('<H', FEATURES[1])
    descs += [(0, 0, 0, 0, 0)] * (16 - len(descs))
    for ref, off, ln, fl, nxt in descs[:16]:
        b += bytes([ref]) + struct.pack('<HH', off, ln) + bytes([fl, nxt])
    b += bytes([len(ring)]) + bytes(ring)
    # The target reads what is missing as zeros.
    return (b + bytes(pages)).rstrip(b'\0')


rng = struct.pack('<QII', 8, 8, 0)
put('fuzz-blk', 'write-read', blk_seed(0, [(T_OUT, 0, 4096, False, None),
                                           (T_IN, 0, 4096, True, None),
                                           (T_FLUSH, 0, 0, False, None),
                                           (T_GET_ID, 0, 20, True, None)]))
put('fuzz-blk', 'ranges', blk_seed(0, [(T_DISCARD, 0, 16, False, rng),
                                       (T_WZ, 0, 16, False, struct.pack('<QII', 8, 8, 1)),
                                       (T_WZ, 100, 16, False, rng)]))
put('fuzz-blk', 'map-mode', blk_seed(2, [(T_OUT, 8, 8192, False, None),
                                         (T_IN, 8, 8192, True, None)]))
# Map mode beside a pool: a request's pieces in the window and out of it.
put('fuzz-blk', 'map-pool', blk_seed(2 | 8, [(T_OUT, 8, 8192, False, None),
                                             (T_IN, 8, 8192, True, None)]))
put('fuzz-blk', 'auto-mode', blk_seed(16, [(T_OUT, 8, 8192, False, None),
                                           (T_IN, 8, 8192, True, None)]))
put('fuzz-blk', 'read-only', blk_seed(1, [(T_OUT, 0, 512, False, None),
                                          (T_IN, 0, 512, True, None)]))
put('fuzz-blk', 'indirect', blk_seed(0, [(T_OUT, 0, 4096, False, None),
                                         (T_IN, 0, 4096, True, None)], indirect=True))

# ---- fuzz-net: flags (role RX 0, TX 1, CTRL 2), features, descriptors, ring, pages ----
NET_FEATURES = bytes([0x30, 0xef]) + struct.pack('<H', 0xffff)


def net_seed(role, descs, ring, pages, frame=None):
    b = bytes([role]) + NET_FEATURES
    descs = descs + [(0, 0, 0, 0, 0)] * (16 - len(descs))
    for ref, off, ln, fl, nxt in descs:
        b += bytes([ref]) + struct.pack('<HH', off, ln) + bytes([fl, nxt])
    b += bytes([len(ring)]) + bytes(ring)
    if frame is not None:
        b += struct.pack('<H', len(frame) - 12 - 14) + frame
    return (b + pages).rstrip(b'\0')


eth = bytes.fromhex('00163e010203' 'fe0000000001' '0800') + bytes(46)
put('fuzz-net', 'tx', net_seed(1, [(1, 0, 12 + len(eth), 0, 0)], [0], bytes(12) + eth))
cmds = [(0, 0, b'\x01'), (1, 0, struct.pack('<I', 1) + bytes.fromhex('00163e0a0b0c') +
                           struct.pack('<I', 1) + bytes.fromhex('01005e000001')),
        (1, 1, bytes.fromhex('00163e0a0b0d')), (2, 0, struct.pack('<H', 5)),
        (2, 1, struct.pack('<H', 5)), (3, 0, b''), (4, 0, struct.pack('<H', 2))]
for i, (cls, cmd, data) in enumerate(cmds):
    page = bytearray(4096)
    page[0:2 + len(data)] = bytes([cls, cmd]) + data
    put('fuzz-net', 'ctrl-%u-%u' % (cls, cmd),
        net_seed(2, [(1, 0, 2 + len(data), NEXT, 1), (1, 2048, 1, WRITE, 0)], [0], bytes(page)))
put('fuzz-net', 'rx', net_seed(0, [(1, 0, 2048, WRITE, 0), (2, 0, 2048, WRITE, 0)], [0, 1],
                               b'', bytes(12) + eth))

# ---- fuzz-virtqueue: flags, rings, memory, then a script ----
def vq_seed(flags, qsize, chains, script):
    desc = bytearray(16 * qsize)
    avail = bytearray(6 + 2 * qsize)
    for i, (addr, ln, fl, nxt) in enumerate(chains):
        struct.pack_into('<QIHH', desc, 16 * i, addr, ln, fl, nxt)
    struct.pack_into('<H', avail, 2, 1)
    used = bytes(6 + 8 * qsize)
    mem = bytearray(2 * 4096)
    struct.pack_into('<QIHH', mem, 0, gaddr(9), 16, NEXT, 1)
    struct.pack_into('<QIHH', mem, 16, gaddr(9, 16), 1, WRITE, 0)
    return bytes([flags]) + bytes(desc) + bytes(avail) + used + bytes(mem) + bytes(script)


put('fuzz-virtqueue', 'one-chain', vq_seed(2, 8, [(gaddr(5), 16, NEXT, 1), (gaddr(6), 1, WRITE, 0)],
                                           [0, 4, 0, 0, 1, 2, 0, 0, 4, 6]))
put('fuzz-virtqueue', 'indirect', vq_seed(2 | 16, 8, [(gaddr(1), 32, INDIRECT, 0)],
                                          [0, 4, 0, 6, 5, 0]))
put('fuzz-virtqueue', 'event-idx', vq_seed(2 | 8, 8, [(gaddr(5), 1, WRITE, 0)],
                                           [0, 4, 6, 1, 2, 0, 0, 4]))

# ---- fuzz-record: the device (id, queues - 1, their sizes), then the file ----
def record_seed(dev_id, sizes, taken):
    hdr_len = 40 + 64 * 40
    at = (hdr_len + 7) & ~7
    queues = b''
    tables = b''
    for i, sz in enumerate(sizes):
        infl = struct.pack('<HH', sz, 0) + bytes(taken.get(i, [0] * sz))
        queues += struct.pack('<QQQIII4x', gaddr(1 + i), gaddr(5 + i), gaddr(9 + i), sz, 10 + i, at)
        tables += infl + bytes((-len(infl)) % 8)
        at += len(infl) + (-len(infl)) % 8
    queues += bytes(64 * 40 - len(queues))
    model_off, model_len = at, 64
    rec = b'vxrec01\0' + struct.pack('<IIQIIII', 1, dev_id, 0, len(sizes), model_off, model_len,
                                      model_off + model_len) + queues
    rec += bytes(hdr_len - len(rec)) + bytes((-hdr_len) % 8) + tables + bytes(model_len)
    codes = bytes([sz.bit_length() - 2 for sz in sizes])
    return bytes([dev_id, len(sizes) - 1]) + codes + rec


put('fuzz-record', 'one-queue', record_seed(0, [2], {}))
put('fuzz-record', 'two-queues-held', record_seed(3, [8, 4], {0: [0, 1, 0, 0, 1, 0, 0, 0]}))

# ---- text formats ----
for name, v in [('dec', '4294967295'), ('zero', '0'), ('hex', '0x8000000100002000'),
                ('bytes', '007f80ff'), ('nul', '2\0xyz')]:
    put('fuzz-xsvalue', name, v)
for name, v in [('disk-positional', '/srv/web.img,raw,vda,rw'),
                ('disk-keys', 'target=/dev/vg/web,vdev=vdb,access=ro,queues=4,backend=dd'),
                ('nic', 'mac=00:16:3e:01:02:03,bridge=xenbr0,mtu=9000,queues=2'),
                ('nic-route', 'script=vif-route,ip=10.0.0.2 10.0.0.3,vifname=web0')]:
    put('fuzz-specs', name, v)
put('fuzz-guestcfg', 'guest', '''name = "web"
memory = 512
kernel = "/boot/vmlinuz"
disk = [ 'phy:/dev/vg/root,xvda,w' ]
virtio_disk = [ '/srv/data.img,vda,rw', 'target=/srv/logs.img,vdev=vdb,queues=2' ]
virtio_nic = [ "mac=00:16:3e:01:02:03,bridge=xenbr0" ]; on_reboot = 'restart'
# a comment
extra = "console=hvc0 " + "quiet"
''')
put('fuzz-saved-devices', 'two', '''# virtio-xenbus saved devices 1
name web
device 51712 0 blk params=/srv/web.img mode=w queues=2 grant-access=copy
device 0 0 net mac=00:16:3e:01:02:03 bridge=xenbr0 script=vif-bridge
''')
sys.exit(0)
