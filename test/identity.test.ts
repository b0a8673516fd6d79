/**
 * containode identities and IPv4 arguments (src/containode/identity.ts), as the
 * original containode takes them.
 */
import test from 'ava';

import { checkIdentity, parseIpv4, randomIdentity } from '../src/containode/identity.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The number an identity's base62 digits (most significant first) stand for. */
function base62Value(id: string): bigint {
  let n = 0n;
  for (const ch of id) {
    const d = BASE62.indexOf(ch);
    if (d < 0) throw new Error(`"${ch}" is no base62 digit`);
    n = n * 62n + BigInt(d);
  }
  return n;
}

test('randomIdentity: 11 base62 characters, a 64-bit number, usable as an identity', (t) => {
  for (let i = 0; i < 200; i++) {
    const id = randomIdentity();
    t.regex(id, /^[0-9A-Za-z]{11}$/);
    t.true(base62Value(id) < 2n ** 64n, `${id} holds more than 64 bits`);
    t.is(checkIdentity(id), id);
  }
});

test('randomIdentity: distinct across calls, with every digit position varying', (t) => {
  const ids = Array.from({ length: 2000 }, () => randomIdentity());
  t.is(new Set(ids).size, ids.length);
  // Positions 1..10 take many values (64 random bits spread over them); the
  // first digit can only be 0..L since 2^64 < 22 * 62^10.
  for (let pos = 1; pos < 11; pos++) t.true(new Set(ids.map((id) => id[pos])).size > 40, `position ${pos}`);
  const firsts = new Set(ids.map((id) => id[0]));
  t.true(firsts.size > 5);
  for (const c of firsts) t.true(BASE62.indexOf(c!) <= 21, `first digit ${c}`);
  // Leading zero digits are kept: the identity is always 11 characters.
  t.true(ids.every((id) => id.length === 11));
});

test('checkIdentity: accepts 1-63 letters, digits and -, starting and ending with a letter or digit', (t) => {
  for (const ok of ['a', 'Z', '7', 'node-1', 'A1b2C3', 'x'.repeat(63), '0-0'])
    t.is(checkIdentity(ok), ok);
});

test('checkIdentity: rejects empty, too long, a leading or trailing dash and anything but letters, digits and -', (t) => {
  for (const bad of ['', '-a', 'abc-', 'x'.repeat(64), 'a_b', 'a.b', 'a b', 'a/b', 'caf\u00e9', 'a\n', 'a:b', 'a@b'])
    t.throws(() => checkIdentity(bad), { message: /must be 1-63 letters, digits or '-'/ }, JSON.stringify(bad));
});

test('parseIpv4: an explicit prefix length is kept, 0 to 32', (t) => {
  t.deepEqual(parseIpv4('10.0.0.2/24'), { addr: '10.0.0.2', prefix: 24 });
  t.deepEqual(parseIpv4('192.168.1.7/16'), { addr: '192.168.1.7', prefix: 16 });
  t.deepEqual(parseIpv4('172.16.0.1/0'), { addr: '172.16.0.1', prefix: 0 });
  t.deepEqual(parseIpv4('1.2.3.4/32'), { addr: '1.2.3.4', prefix: 32 });
  t.deepEqual(parseIpv4('224.0.0.1/4'), { addr: '224.0.0.1', prefix: 4 }, 'class D is fine with a prefix');
});

test('parseIpv4: without a prefix, the class default: A /8, B /16, C /24', (t) => {
  const cases: [string, number][] = [
    ['0.0.0.1', 8],
    ['10.0.0.2', 8],
    ['127.0.0.1', 8],
    ['128.0.0.1', 16],
    ['172.16.5.4', 16],
    ['191.255.255.254', 16],
    ['192.0.2.1', 24],
    ['192.168.1.1', 24],
    ['223.255.255.1', 24],
  ];
  for (const [addr, prefix] of cases) t.deepEqual(parseIpv4(addr), { addr, prefix }, addr);
});

test('parseIpv4: class D and E addresses need a prefix', (t) => {
  for (const a of ['224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255'])
    t.throws(() => parseIpv4(a), { message: /class D\/E: give a prefix length/ }, a);
});

test('parseIpv4: rejects malformed addresses, octets over 255 and prefixes over 32', (t) => {
  for (const bad of ['', '10.0.0', '10.0.0.0.1', '10.0.0.1/', '10.0.0.1/24/8', 'a.b.c.d', ' 10.0.0.1', '10.0.0.1 ', '10.0.0.-1', '10.0.0.1/-1', '10.0.0.1/100', '1000.0.0.1', '::1', '10.0.0.1/2a'])
    t.throws(() => parseIpv4(bad), { message: /is not an IPv4 address/ }, JSON.stringify(bad));
  for (const bad of ['256.0.0.1', '10.0.0.256', '10.300.0.1/8'])
    t.throws(() => parseIpv4(bad), { message: /each part of an IPv4 address is 0 to 255/ }, bad);
  for (const bad of ['10.0.0.1/33', '10.0.0.1/99'])
    t.throws(() => parseIpv4(bad), { message: /prefix length must be 0 to 32/ }, bad);
});
