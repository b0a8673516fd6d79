/**
 * Fuzzes what hostile peers send the dataplane (native/fuzz) with libFuzzer,
 * AddressSanitizer and UBSan for a bounded time, each harness from its
 * committed seed corpus: the vhost-user message handler and virtqueue walker,
 * and the tunnel kinds' datagram checks and TCP receive coalescing. Any
 * crash, leak or sanitizer report fails the test with libFuzzer's report.
 * Skipped, saying why, without clang and libFuzzer.
 */
import anyTest, { type TestFn } from 'ava';
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { packageRoot } from '../src/native.js';
import { tempDir } from './helpers/env.js';

const test = anyTest as TestFn;
const clang = await execa('clang', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }));
const native = path.join(packageRoot, 'native');

/** A libFuzzer harness: its file in native/fuzz, the sources it links, their
 *  include folders, its seed corpus (native/fuzz/corpus/NAME) and limits. */
interface Harness {
  name: string;
  what: string;
  sources: string[];
  includes: string[];
  seconds: number;
  maxLen: number;
}

const HARNESSES: Harness[] = [
  {
    name: 'vhost',
    what: 'hostile vhost-user sessions (messages, memory tables, rings)',
    sources: ['kinds/vhost/vhost_user.c', 'kinds/vhost/virtq.c', 'kinds/vhost/vhost_mem.c', 'kinds/vhost/vhost_guard.c'],
    includes: ['kinds/vhost'],
    seconds: 20,
    maxLen: 8192,
  },
  {
    name: 'tunnel',
    what: 'hostile VXLAN and Geneve datagrams (headers, VNIs, inner frames, runs of TCP segments to join)',
    sources: ['kinds/tunnel/encap.c', 'kinds/tunnel/gro.c', 'core/gso.c', 'core/offload.c'],
    includes: ['kinds/tunnel', 'core'],
    seconds: 10,
    maxLen: 70000,
  },
];

for (const h of HARNESSES) {
  const title = `fuzz: ${h.seconds} s of ${h.what} find no crash`;
  if (clang.exitCode !== 0) {
    test.skip(`${title} [skipped: needs clang and libFuzzer (apt-get install clang libclang-rt-14-dev)]`, () => undefined);
    continue;
  }
  test(title, async (t) => {
    const dir = tempDir(t);
    const exe = path.join(dir, `fuzz_${h.name}`);
    const cc = await execa(
      'clang',
      ['-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined',
        ...h.includes.map((i) => `-I${path.join(native, i)}`),
        path.join(native, 'fuzz', `fuzz_${h.name}.c`),
        ...h.sources.map((f) => path.join(native, f)),
        '-o', exe],
      { reject: false, all: true },
    );
    t.is(cc.exitCode, 0, `building the fuzzer: ${cc.all}`);
    // Work on a copy: the fuzzer adds what it finds to its first corpus.
    const corpus = path.join(dir, 'corpus');
    mkdirSync(corpus);
    cpSync(path.join(native, 'fuzz', 'corpus', h.name), corpus, { recursive: true });
    const seeds = readdirSync(corpus).length;
    t.true(seeds >= 5, `seed corpus of ${seeds} files`);
    const r = await execa(exe, [`-max_total_time=${h.seconds}`, `-max_len=${h.maxLen}`, '-timeout=10', `-artifact_prefix=${dir}/`, corpus], {
      reject: false,
      all: true,
      timeout: (h.seconds + 60) * 1000,
    });
    const tail = (r.all ?? '').split('\n').slice(-30).join('\n');
    t.is(r.exitCode, 0, `libFuzzer found a problem:\n${tail}`);
    const runs = /Done (\d+) runs/.exec(r.all ?? '');
    t.truthy(runs, tail);
    t.true(Number(runs![1]) > 1000, `ran ${runs?.[1]} inputs`);
    t.log(`${runs![1]} inputs in ${h.seconds} s; corpus ${seeds} -> ${readdirSync(corpus).length}`);
  });
}
