/**
 * Fuzzes the vhost-user message handler and the virtqueue walker (native/fuzz)
 * with libFuzzer, AddressSanitizer and UBSan for a bounded time, starting from
 * the committed seed corpus: any crash, leak or sanitizer report fails the test
 * with libFuzzer's report. Skipped, saying why, without clang and libFuzzer.
 */
import anyTest, { type TestFn } from 'ava';
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { packageRoot } from '../src/native.js';
import { tempDir } from './helpers/env.js';

/** Seconds of fuzzing per run (a bounded part of the suite). */
const SECONDS = 20;

const test = anyTest as TestFn;
const clang = await execa('clang', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }));

const title = `fuzz: ${SECONDS} s of hostile vhost-user sessions (messages, memory tables, rings) find no crash`;
if (clang.exitCode !== 0) {
  test.skip(`${title} [skipped: needs clang and libFuzzer (apt-get install clang libclang-rt-14-dev)]`, () => undefined);
} else {
  test(title, async (t) => {
    const dir = tempDir(t);
    const exe = path.join(dir, 'fuzz_vhost');
    const vhost = path.join(packageRoot, 'native', 'kinds', 'vhost');
    const cc = await execa(
      'clang',
      ['-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined', `-I${vhost}`,
        path.join(packageRoot, 'native', 'fuzz', 'fuzz_vhost.c'),
        ...['vhost_user.c', 'virtq.c', 'vhost_mem.c'].map((f) => path.join(vhost, f)),
        '-o', exe],
      { reject: false, all: true },
    );
    t.is(cc.exitCode, 0, `building the fuzzer: ${cc.all}`);
    // Work on a copy: the fuzzer adds what it finds to its first corpus.
    const corpus = path.join(dir, 'corpus');
    mkdirSync(corpus);
    cpSync(path.join(packageRoot, 'native', 'fuzz', 'corpus', 'vhost'), corpus, { recursive: true });
    const seeds = readdirSync(corpus).length;
    t.true(seeds >= 5, `seed corpus of ${seeds} files`);
    const r = await execa(exe, [`-max_total_time=${SECONDS}`, '-max_len=8192', '-timeout=10', `-artifact_prefix=${dir}/`, corpus], {
      reject: false,
      all: true,
      timeout: (SECONDS + 60) * 1000,
    });
    const tail = (r.all ?? '').split('\n').slice(-30).join('\n');
    t.is(r.exitCode, 0, `libFuzzer found a problem:\n${tail}`);
    const runs = /Done (\d+) runs/.exec(r.all ?? '');
    t.truthy(runs, tail);
    t.true(Number(runs![1]) > 1000, `ran ${runs?.[1]} inputs`);
    t.log(`${runs![1]} inputs in ${SECONDS} s; corpus ${seeds} -> ${readdirSync(corpus).length}`);
  });
}
