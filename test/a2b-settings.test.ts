/**
 * The a2b settings as the daemon reads them (src/kinds/a2b/settings.ts and the set
 * request): tc-style units, cloonix's "dir=0 cmd=delay val=1000" form, the
 * Gilbert-Elliott spec, limits, and the errors bad values get. The end-to-end
 * behaviour of the same settings is in e2e-a2b.test.ts.
 */
import test from 'ava';

import { A2B_DEFAULTS, A2bError, applyChange, describe, nativeSettings, parseBytes, parseCloonix, parseGe, parsePercent, parseRate, parseTime } from '../src/kinds/a2b/settings.js';
import { parseRequest, ProtocolError } from '../src/daemon/protocol.js';

test('rates: tc units in bits and bytes per second, bare numbers are bit/s', (t) => {
  t.is(parseRate('10mbit'), 10_000_000);
  t.is(parseRate('1.5gbit'), 1_500_000_000);
  t.is(parseRate('64kbit'), 64_000);
  t.is(parseRate('125kbps'), 1_000_000);
  t.is(parseRate('1mbps'), 8_000_000);
  t.is(parseRate(2_000_000), 2_000_000);
  t.is(parseRate('0'), 0);
  t.throws(() => parseRate('10furlongs'), { instanceOf: A2bError, message: /unknown unit "furlongs"/ });
  t.throws(() => parseRate('-1mbit'), { instanceOf: A2bError, message: /negative/ });
  t.throws(() => parseRate('fast'), { instanceOf: A2bError, message: /not a number/ });
});

test('times in us, ms, s (bare: us); percentages; byte sizes', (t) => {
  t.is(parseTime('20ms', 'delay'), 20_000);
  t.is(parseTime('1.5s', 'delay'), 1_500_000);
  t.is(parseTime('250us', 'jitter'), 250);
  t.is(parseTime(300, 'delay'), 300);
  t.throws(() => parseTime('-5ms', 'delay'), { message: /delay: must not be negative/ });
  t.throws(() => parseTime('3h', 'delay'), { message: /unknown unit "h"/ });
  t.is(parsePercent('1%', 'loss'), 1);
  t.is(parsePercent('0.25', 'loss'), 0.25);
  t.throws(() => parsePercent('150%', 'loss'), { message: /loss: at most 100/ });
  t.throws(() => parsePercent('5ms', 'loss'), { message: /percentage/ });
  t.is(parseBytes('64k', 'limit-bytes'), 65536);
  t.is(parseBytes('2m', 'limit-bytes'), 2 << 20);
});

test('Gilbert-Elliott: P,R with the defaults 1-H = 100 and 1-K = 0; 0 turns it off', (t) => {
  t.deepEqual(parseGe('1%,10%'), { p: 1, r: 10, lossBad: 100, lossGood: 0 });
  t.deepEqual(parseGe('1,10,80,0.5'), { p: 1, r: 10, lossBad: 80, lossGood: 0.5 });
  t.is(parseGe('0'), null);
  t.throws(() => parseGe('5'), { message: /P,R/ });
  t.throws(() => parseGe('1,2,3,4,5'), { message: /P,R/ });
});

test("cloonix's form: dir 0/1, delay in ms, loss in 1/10000, rate in kilobytes/s", (t) => {
  t.deepEqual(parseCloonix(['dir=0', 'cmd=delay', 'val=1000']), { dirs: ['a2b'], change: { delay: 1_000_000 } });
  t.deepEqual(parseCloonix(['dir=1 cmd=loss val=5000']), { dirs: ['b2a'], change: { loss: 50 } });
  t.deepEqual(parseCloonix(['dir=0 cmd=rate val=125']), { dirs: ['a2b'], change: { rate: 1_000_000 } });
  t.throws(() => parseCloonix(['dir=2 cmd=delay val=1']), { message: /dir=0/ });
  t.throws(() => parseCloonix(['dir=0 cmd=jitter val=1']), { message: /cmd=delay/ });
  t.throws(() => parseCloonix(['dir=0 cmd=loss val=20000']), { message: /at most 100/ });
  t.throws(() => parseCloonix(['dir=0', 'cmd=delay', 'val=x']), { message: /val=/ });
  t.throws(() => parseCloonix(['delay=3']), { message: /not dir=N/ });
});

test('a change keeps what it does not name; limits and seeds are checked; the engine form', (t) => {
  const s = applyChange(applyChange(A2B_DEFAULTS, { delay: 20_000, rate: 10_000_000 }), { loss: 1 });
  t.like(s, { delay: 20_000, rate: 10_000_000, loss: 1, limit: 1000 });
  t.is(describe(s), 'rate 10mbit delay 20ms loss 1%');
  t.is(describe(A2B_DEFAULTS), '-');
  t.throws(() => applyChange(A2B_DEFAULTS, { limit: 0 }), { message: /limit/ });
  t.throws(() => applyChange(A2B_DEFAULTS, { limitBytes: 1000 }), { message: /limit-bytes/ });
  t.throws(() => applyChange(A2B_DEFAULTS, { limitBytes: 64 << 20 }), { message: /limit-bytes/ });
  t.like(nativeSettings({ ...s, distribution: 'normal' }), { rateBps: 10_000_000, delayUs: 20_000, lossPct: 1, normal: true, ge: null });
});

test('the set request: a2b fields with units, dir, cloonix alone, and clear errors', (t) => {
  const parse = (b: unknown) => parseRequest(JSON.stringify(b), undefined);
  t.deepEqual(parse({ set: { name: 'l1', dir: 'b2a', delay: '20ms', rate: '10mbit', loss: '1%' } }), {
    verb: 'set',
    name: 'l1',
    a2b: { dirs: ['b2a'], change: { delay: 20_000, rate: 10_000_000, loss: 1 } },
  });
  t.deepEqual((parse({ set: { name: 'l1', jitter: 500 } }) as { a2b: unknown }).a2b, { dirs: ['a2b', 'b2a'], change: { jitter: 500 } });
  t.deepEqual((parse({ set: { name: 'l1', cloonix: 'dir=0 cmd=delay val=30' } }) as { a2b: unknown }).a2b, { dirs: ['a2b'], change: { delay: 30_000 } });
  t.deepEqual(parse({ 'add-a2b': { name: 'l1', a: 'x', b: 'y', thread: 0 } }), { verb: 'add-a2b', name: 'l1', a: 'x', b: 'y', thread: 0 });
  for (const [body, re] of [
    [{ name: 'l1', dir: 'sideways' }, /"dir" must be a2b, b2a or both/],
    [{ name: 'l1', rate: '10furlongs' }, /unknown unit/],
    [{ name: 'l1', loss: '150%' }, /at most 100/],
    [{ name: 'l1', distribution: 'pareto' }, /uniform or normal/],
    [{ name: 'l1', cloonix: 'dir=0 cmd=delay val=1', delay: '1ms' }, /comes alone/],
    [{ name: 'l1', rate: true }, /string with a unit or a number/],
    [{ name: 'l1', seed: -1 }, /seed/],
  ] as const)
    t.throws(() => parse({ set: body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
  t.throws(() => parse({ 'add-a2b': { name: 'l1', a: 'x' } }), { instanceOf: ProtocolError, message: /"b" must be a non-empty string/ });
});
