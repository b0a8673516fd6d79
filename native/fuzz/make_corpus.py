#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_vhost (native/fuzz/corpus/vhost): whole
frontend sessions a fuzzer would take long to find by itself, each a u16 memory
length, guest memory holding rings and chains, then the messages that set up
the device (see fuzz_vhost.c). Run from the repository root."""
import os, struct

GPA, UVA, MEM = 0x100000, 0x7f0000000000, 8192
DESC, AVAIL, USED, BUF, IND = 0x0, 0x400, 0x800, 0x1000, 0xc00
QSZ = 8
TRUNCATE, SEAL = 0x100, 0x101  # fuzz_vhost.c's stand-ins for ftruncate and F_ADD_SEALS on the memory fd
FEATURES = (1 << 32) | (1 << 15) | (1 << 28) | (1 << 29) | (1 << 30) | 3 | (1 << 7) | (1 << 8) | (1 << 11) | (1 << 12)


def msg(req, payload=b'', flags=1):
    return struct.pack('<III', req, flags, len(payload)) + payload


def desc(addr, ln, flags, nxt):
    return struct.pack('<QIHH', addr, ln, flags, nxt)


def session(mem, queues, extra=b'', first=b'', enable=True):
    m = first + msg(1) + msg(15) + msg(16, struct.pack('<Q', (1 << 0) | (1 << 3))) + msg(2, struct.pack('<Q', FEATURES))
    m += msg(3) + msg(5, struct.pack('<II', 1, 0) + struct.pack('<QQQQ', GPA, MEM, UVA, 0))
    for q in queues:
        m += msg(8, struct.pack('<II', q, QSZ))
        m += msg(9, struct.pack('<IIQQQQ', q, 0, UVA + DESC, UVA + USED, UVA + AVAIL, 0))
        m += msg(10, struct.pack('<II', q, 0))
        m += msg(12, struct.pack('<Q', q)) + msg(13, struct.pack('<Q', q))
        if enable:
            m += msg(18, struct.pack('<II', q, 1), flags=1 | 8)
    m += extra + msg(11, struct.pack('<II', queues[0], 0))
    return struct.pack('<H', len(mem)) + mem + m


def memory(descs, heads, indirect=b''):
    mem = bytearray(MEM)
    for i, d in descs.items():
        mem[DESC + 16 * i:DESC + 16 * i + 16] = d
    mem[AVAIL:AVAIL + 4] = struct.pack('<HH', 0, len(heads))
    for i, h in enumerate(heads):
        mem[AVAIL + 4 + 2 * i:AVAIL + 6 + 2 * i] = struct.pack('<H', h)
    mem[IND:IND + len(indirect)] = indirect
    mem[BUF:BUF + 64] = bytes(range(64))
    return bytes(mem[:0x1100])


seeds = {
    'tx-chain': session(memory({0: desc(GPA + BUF, 12, 1, 1), 1: desc(GPA + BUF + 12, 60, 0, 0)}, [0]), [1]),
    'tx-indirect': session(memory({2: desc(GPA + IND, 32, 4, 0)}, [2],
                                  desc(GPA + BUF, 12, 1, 1) + desc(GPA + BUF + 12, 50, 0, 0)), [1]),
    'rx-writable': session(memory({0: desc(GPA + BUF, 2048, 2, 0), 1: desc(GPA + BUF + 2048, 2048, 2, 0)}, [0, 1]), [0]),
    'loop': session(memory({0: desc(GPA + BUF, 8, 1, 1), 1: desc(GPA + BUF, 8, 1, 0)}, [0]), [1]),
    'two-queues': session(memory({0: desc(GPA + BUF, 100, 0, 0)}, [0]), [1, 3]),
    # The frontend shrinks its memory after the rings are set up: to the
    # rings' page (the buffer goes) before it enables the ring, so the walker
    # finds the chain only then; or to nothing, before the next ring message
    # (the handler reads the used index); or it sealed the memory first, so
    # it cannot.
    'shrink-buffer': session(memory({0: desc(GPA + BUF, 64, 0, 0)}, [0]), [1],
                             msg(TRUNCATE, struct.pack('<Q', 0x1000)) + msg(18, struct.pack('<II', 1, 1)), enable=False),
    'shrink-rx': session(memory({0: desc(GPA + BUF, 2048, 2, 0)}, [0]), [0],
                         msg(TRUNCATE, struct.pack('<Q', 0x1000)) + msg(18, struct.pack('<II', 0, 1)), enable=False),
    'shrink-all': session(memory({0: desc(GPA + BUF, 64, 0, 0)}, [0]), [1],
                          msg(TRUNCATE, struct.pack('<Q', 0)) + msg(8, struct.pack('<II', 1, QSZ))),
    'shrink-sealed': session(memory({0: desc(GPA + BUF, 64, 0, 0)}, [0]), [1],
                             msg(TRUNCATE, struct.pack('<Q', 0)) + msg(18, struct.pack('<II', 1, 1)),
                             first=msg(SEAL), enable=False),
}
out = os.path.join('native', 'fuzz', 'corpus', 'vhost')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
print(f'{len(seeds)} seeds in {out}')
