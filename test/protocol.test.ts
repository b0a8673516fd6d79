/**
 * The switch socket protocol's pure logic (src/daemon/protocol.ts): finding
 * where a JSON message ends, cutting a stream into messages with their fds,
 * validating requests and object names. No sockets, no root.
 */
import test from 'ava';

import {
  MAX_REQUEST,
  MessageSplitter,
  NAME_RE,
  ProtocolError,
  VERB_FDS,
  checkName,
  jsonSpan,
  parseRequest,
  type Request,
} from '../src/daemon/protocol.js';

/** Parse @req (an object, sent as JSON) with the daemon's @token. */
function parse(req: unknown, token?: string): Request {
  return parseRequest(JSON.stringify(req), token);
}

/** Every message @s yields right now, stopping at the first null. */
function drain(s: MessageSplitter): { text: string; fds: number[] }[] {
  const out: { text: string; fds: number[] }[] = [];
  for (let f = s.next(); f; f = s.next()) out.push(f);
  return out;
}

/** A Buffer of @text. */
const buf = (text: string) => Buffer.from(text, 'utf8');

// ---------------------------------------------------------------- jsonSpan

test('jsonSpan: length of a complete object or array, leading whitespace included', (t) => {
  t.is(jsonSpan('{}'), 2);
  t.is(jsonSpan('[]'), 2);
  t.is(jsonSpan('{"a":1}{"b":2}'), 7);
  t.is(jsonSpan(' \n\t\r{"a":[1,{"b":2}]} trailing'), 4 + 17);
  t.is(jsonSpan('[[],[[]]]x'), 9);
});

test('jsonSpan: braces and quotes inside strings, and escapes, do not end the object', (t) => {
  const s = '{"a":"}{][","b":"say \\"}\\" now","c":"\\\\"}';
  t.is(jsonSpan(s + '{"next":1}'), s.length);
  t.notThrows(() => JSON.parse(s));
  const tricky = '{"a":"\\\\\\""}'; // a string of a backslash and a quote
  t.deepEqual(JSON.parse(tricky), { a: '\\"' });
  t.is(jsonSpan(tricky + '}'), tricky.length);
});

test('jsonSpan: 0 when incomplete or empty, -1 when it does not start with { or [', (t) => {
  t.is(jsonSpan(''), 0);
  t.is(jsonSpan('   \n'), 0);
  t.is(jsonSpan('{'), 0);
  t.is(jsonSpan('{"a":"}'), 0, 'the brace is inside an unterminated string');
  t.is(jsonSpan('{"a":{"b":1}'), 0);
  t.is(jsonSpan('[1,2'), 0);
  t.is(jsonSpan('x{}'), -1);
  t.is(jsonSpan('  "str"'), -1);
  t.is(jsonSpan('12'), -1);
  t.is(jsonSpan('}'), -1);
  t.is(jsonSpan('null'), -1);
});

// ---------------------------------------------------------- MessageSplitter

test('MessageSplitter: the original client\'s single object with no trailing byte is one message', (t) => {
  const s = new MessageSplitter();
  const req = '{"authtoken":"tok","add-etherfd":{"ifname":"eth0","nodeid":"abc"}}';
  s.push(buf(req), [7]);
  t.deepEqual(s.next(), { text: req, fds: [7] });
  t.is(s.next(), null);
  t.deepEqual(s.drainFds(), []);
});

test('MessageSplitter: a message split across chunks comes out once complete, with the fds of its first chunk', (t) => {
  const s = new MessageSplitter();
  const req = '{"add-etherfd":{"ifname":"eth0","nodeid":"n1"}}';
  s.push(buf(req.slice(0, 5)), [10]);
  t.is(s.next(), null);
  s.push(buf(req.slice(5, 20)), []);
  t.is(s.next(), null);
  s.push(buf(req.slice(20)), []);
  t.deepEqual(s.next(), { text: req, fds: [10] });
  t.is(s.next(), null);
});

test('MessageSplitter: several objects in one chunk come out one by one; the chunk\'s fds go with the first', (t) => {
  const s = new MessageSplitter();
  s.push(buf('{"version":{}}{"show":{}}\n{"stats":{}}'), [3, 4]);
  const msgs = drain(s);
  t.deepEqual(msgs.map((m) => JSON.parse(m.text)), [{ version: {} }, { show: {} }, { stats: {} }]);
  t.deepEqual(msgs.map((m) => m.fds), [[3, 4], [], []]);
  t.deepEqual(s.drainFds(), []);
});

test('MessageSplitter: fds are attributed to the message whose bytes they came with', (t) => {
  const s = new MessageSplitter();
  const a = '{"version":{}}';
  const b = '{"add-etherfd":{"ifname":"eth0","nodeid":"x"}}';
  const c = '{"add-etherfd":{"ifname":"eth1","nodeid":"x"}}';
  // One sendmsg carries all of a and the start of b, with fd 20: it belongs to
  // a, whose first byte it came with. The rest of b comes with fd 21, c with 22.
  s.push(buf(a + b.slice(0, 3)), [20]);
  s.push(buf(b.slice(3)), [21]);
  s.push(buf(c), [22]);
  const msgs = drain(s);
  t.deepEqual(msgs.map((m) => m.text), [a, b, c]);
  t.deepEqual(msgs.map((m) => m.fds), [[20], [21], [22]]);
});

test('MessageSplitter: fds pushed before a message is complete wait for it; drainFds hands back the undelivered ones', (t) => {
  const s = new MessageSplitter();
  s.push(buf('{"version":{}}'), []);
  s.push(buf('{"add-etherfd":{"ifn'), [30, 31]);
  const first = s.next();
  t.deepEqual(first, { text: '{"version":{}}', fds: [] });
  t.is(s.next(), null);
  t.deepEqual(s.drainFds(), [30, 31]);
  t.deepEqual(s.drainFds(), [], 'drained fds are handed out once');
  s.push(buf('ame":"e","nodeid":"n"}}'), []);
  t.deepEqual(s.next()?.fds, []);
});

test('MessageSplitter: whitespace between and after messages is skipped; a multi-byte character split across chunks survives', (t) => {
  const s = new MessageSplitter();
  const bytes = buf('\n  {"del":{"name":"caf\u00e9"}}\r\n\t');
  const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of é
  s.push(bytes.subarray(0, cut), []);
  t.is(s.next(), null);
  s.push(bytes.subarray(cut), []);
  const m = s.next();
  t.truthy(m);
  t.deepEqual(JSON.parse(m!.text), { del: { name: 'caf\u00e9' } });
  t.is(s.next(), null);
  t.is(s.next(), null);
});

test('MessageSplitter: bytes that cannot start a JSON object are a ProtocolError', (t) => {
  for (const bad of ['hello', '"x"', '42', '{"a":1}}', 'null']) {
    const s = new MessageSplitter();
    s.push(buf(bad), []);
    t.throws(
      () => drain(s),
      { instanceOf: ProtocolError, message: /malformed request/ },
      JSON.stringify(bad),
    );
  }
});

test('MessageSplitter: an unfinished request longer than MAX_REQUEST is a ProtocolError', (t) => {
  t.is(MAX_REQUEST, 1 << 20);
  const s = new MessageSplitter();
  s.push(buf('{"show":{"x":"'), []);
  const chunk = buf('a'.repeat(64 * 1024));
  let pushed = 0;
  const err = t.throws(
    () => {
      for (;;) {
        s.push(chunk, []);
        pushed += chunk.length;
        s.next();
        if (pushed > 2 * MAX_REQUEST) return;
      }
    },
    { instanceOf: ProtocolError },
  );
  t.regex(err?.message ?? '', new RegExp(`larger than ${MAX_REQUEST}`));
  t.true(pushed >= MAX_REQUEST - 64 * 1024, 'not refused well before the limit');
  t.true(pushed <= MAX_REQUEST + 64 * 1024, 'refused once past the limit');
});

test('MessageSplitter: a complete request just under MAX_REQUEST is accepted, one over it is refused', (t) => {
  const pad = (n: number) => `{"show":{"x":"${'a'.repeat(n - 16)}"}}`;
  const ok = pad(MAX_REQUEST - 100);
  const s1 = new MessageSplitter();
  s1.push(buf(ok), []);
  t.is(s1.next()?.text.length, ok.length);

  const big = pad(MAX_REQUEST + 100);
  t.true(big.length > MAX_REQUEST);
  const s2 = new MessageSplitter();
  s2.push(buf(big), []);
  // (Not t.throws: on failure it would print the megabyte it got back.)
  let err: unknown;
  try {
    const m = s2.next();
    t.fail(`a ${m?.text.length}-character request was accepted`);
  } catch (e) {
    err = e;
  }
  t.true(err instanceof ProtocolError);
  t.regex((err as Error | undefined)?.message ?? '', /larger than/);
});

// ------------------------------------------------------------ parseRequest

test('VERB_FDS: add-etherfd and capture carry one fd, every other verb none', (t) => {
  t.deepEqual(
    { ...VERB_FDS },
    { 'add-etherfd': 1, 'remove-etherfd': 0, 'add-lan': 0, 'add-vhost': 0, 'add-dpdk': 0, 'add-tap': 0, 'add-nat': 0, 'add-a2b': 0, capture: 1, 'add-phy': 0, 'add-mirror': 0, 'add-vxlan': 0, 'add-geneve': 0, 'add-c2c': 0, 'add-node': 0, set: 0, del: 0, show: 0, stats: 0, version: 0 },
  );
});

test('parseRequest: every verb of VERB_FDS parses with its minimal body, and no other verb does', (t) => {
  const minimal: Record<string, unknown> = {
    'add-etherfd': { ifname: 'eth0', nodeid: 'n' },
    'remove-etherfd': { nodeid: 'n' },
    'add-lan': { name: 'l' },
    'add-vhost': { name: 'v', socket: '/run/v.sock' },
    'add-dpdk': { name: 'd', devargs: 'net_null0' },
    'add-tap': { name: 't' },
    'add-nat': { name: 'n' },
    'add-a2b': { name: 'x', a: 'la', b: 'lb' },
    capture: { name: 'c', of: ['p'] },
    'add-phy': { ifname: 'eth1' },
    'add-mirror': { name: 'm', select: ['p'], to: 'q' },
    'add-vxlan': { name: 'v', vni: 1, remotes: ['10.0.0.2'] },
    'add-geneve': { name: 'g', vni: 1, remotes: ['10.0.0.2'] },
    'add-c2c': { name: 'c', remotes: ['10.0.0.2'] },
    'add-node': { name: 'n1', command: ['true'] },
    set: { name: 'l' },
    del: { name: 'l' },
    show: {},
    stats: {},
    version: {},
  };
  t.deepEqual(Object.keys(minimal).sort(), Object.keys(VERB_FDS).sort());
  for (const [verb, body] of Object.entries(minimal)) t.is(parse({ [verb]: body }).verb as string, verb);
  for (const verb of ['add-port', 'ADD-LAN', 'remove', 'help', '']) {
    t.throws(() => parse({ [verb]: {} }), { instanceOf: ProtocolError, message: /unknown request/ }, verb);
  }
});

test('parseRequest: capture, with defaults and refusals naming the field', (t) => {
  t.deepEqual(parse({ capture: { name: 'c', of: ['p1', 'lan0'] } }), { verb: 'capture', name: 'c', of: ['p1', 'lan0'], format: 'pcapng', dir: 'both', snaplen: undefined, count: undefined, filter: undefined, segment: undefined });
  t.is((parse({ capture: { name: 'c', of: ['p'], format: 'pcap', dir: 'in', snaplen: 96, count: 5, filter: 'icmp' } }) as { snaplen: number }).snaplen, 96);
  for (const [body, re] of [
    [{ name: 'c', of: [] }, /"of" must be a non-empty list/],
    [{ name: 'c', of: ['p'], format: 'xml' }, /"format" must be "pcapng" or "pcap"/],
    [{ name: 'c', of: ['p'], dir: 'up' }, /"dir" must be "in", "out" or "both"/],
    [{ name: 'c', of: ['p'], snaplen: 0 }, /"snaplen" must be an integer from 1 to 262144/],
    [{ name: 'c', of: ['p'], count: -1 }, /"count" must be an integer/],
  ] as const)
    t.throws(() => parse({ capture: body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
});

test('parseRequest: add-etherfd, as the original sends it and with every optional field', (t) => {
  t.deepEqual(parse({ authtoken: 'x', 'add-etherfd': { ifname: 'eth0', nodeid: 'Abc123' } }), {
    verb: 'add-etherfd',
    ifname: 'eth0',
    nodeid: 'Abc123',
  });
  t.deepEqual(parse({ 'add-etherfd': { ifname: 'eth1', nodeid: 'n', lan: 'lan7', name: 'p.1', pid: 4242 } }), {
    verb: 'add-etherfd',
    ifname: 'eth1',
    nodeid: 'n',
    lan: 'lan7',
    name: 'p.1',
    pid: 4242,
  });
  t.is((parse({ 'add-etherfd': { ifname: 'e', nodeid: 'n', pid: 2 ** 22 } }) as { pid: number }).pid, 2 ** 22);
  t.deepEqual(parse({ 'add-etherfd': { ifname: 'e', nodeid: 'n', keep: true, netns: '/run/netns/cni-1', thread: 0 } }), {
    verb: 'add-etherfd',
    ifname: 'e',
    nodeid: 'n',
    keep: true,
    netns: '/run/netns/cni-1',
    thread: 0,
  });
});

test('parseRequest: add-etherfd refuses missing, empty or mistyped fields', (t) => {
  const bad: [unknown, RegExp][] = [
    [{ nodeid: 'n' }, /"ifname" must be a non-empty string/],
    [{ ifname: 'eth0' }, /"nodeid" must be a non-empty string/],
    [{ ifname: '', nodeid: 'n' }, /"ifname"/],
    [{ ifname: 'eth0', nodeid: 7 }, /"nodeid"/],
    [{ ifname: 'eth0', nodeid: 'n', lan: '' }, /"lan"/],
    [{ ifname: 'eth0', nodeid: 'n', lan: 3 }, /"lan"/],
    [{ ifname: 'eth0', nodeid: 'n', name: 'bad name' }, /"name" must be 1-64/],
    [{ ifname: 'eth0', nodeid: 'n', pid: 0 }, /"pid" must be an integer from 1 to 4194304/],
    [{ ifname: 'eth0', nodeid: 'n', pid: -5 }, /"pid"/],
    [{ ifname: 'eth0', nodeid: 'n', pid: 1.5 }, /"pid"/],
    [{ ifname: 'eth0', nodeid: 'n', pid: '12' }, /"pid"/],
    [{ ifname: 'eth0', nodeid: 'n', pid: 2 ** 22 + 1 }, /"pid"/],
    [{ ifname: 'eth0', nodeid: 'n', fd: 3 }, /unknown field "fd"/],
    [{ ifname: 'eth0', nodeid: 'n', keep: 'yes' }, /"keep" must be true or false/],
    [{ ifname: 'eth0', nodeid: 'n', netns: 'run/netns/x' }, /"netns" must be an absolute path/],
    [{ ifname: 'eth0', nodeid: 'n', netns: '' }, /"netns" must be a non-empty string/],
  ];
  for (const [body, re] of bad)
    t.throws(() => parse({ 'add-etherfd': body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
});

test('parseRequest: remove-etherfd takes nodeid and an optional ifname', (t) => {
  t.deepEqual(parse({ 'remove-etherfd': { nodeid: 'n' } }), { verb: 'remove-etherfd', nodeid: 'n' });
  t.deepEqual(parse({ 'remove-etherfd': { nodeid: 'n', ifname: 'eth0' } }), {
    verb: 'remove-etherfd',
    nodeid: 'n',
    ifname: 'eth0',
  });
  t.throws(() => parse({ 'remove-etherfd': {} }), { instanceOf: ProtocolError, message: /"nodeid"/ });
  t.throws(() => parse({ 'remove-etherfd': { nodeid: 'n', ifname: 0 } }), { instanceOf: ProtocolError, message: /"ifname"/ });
  t.throws(() => parse({ 'remove-etherfd': { nodeid: 'n', lan: 'x' } }), { instanceOf: ProtocolError, message: /unknown field "lan"/ });
});

test('parseRequest: add-lan takes a checked name, aging in seconds and mac-table-size, each bounded', (t) => {
  t.deepEqual(parse({ 'add-lan': { name: 'lan1' } }), { verb: 'add-lan', name: 'lan1' });
  t.deepEqual(parse({ 'add-lan': { name: 'lan1', aging: 30, 'mac-table-size': 64 } }), {
    verb: 'add-lan',
    name: 'lan1',
    aging: 30,
    macTableSize: 64,
  });
  t.is((parse({ 'add-lan': { name: 'l', aging: 1_000_000, 'mac-table-size': 1 << 24 } }) as { aging: number }).aging, 1_000_000);
  const bad: [unknown, RegExp][] = [
    [{}, /add-lan: "name" must be 1-64/],
    [{ name: '-x' }, /"name"/],
    [{ name: 'l', aging: 0 }, /"aging" must be an integer from 1 to 1000000/],
    [{ name: 'l', aging: 1_000_001 }, /"aging"/],
    [{ name: 'l', aging: '30' }, /"aging"/],
    [{ name: 'l', 'mac-table-size': 0 }, /"mac-table-size" must be an integer from 1 to 16777216/],
    [{ name: 'l', 'mac-table-size': (1 << 24) + 1 }, /"mac-table-size"/],
    [{ name: 'l', macTableSize: 8 }, /unknown field "macTableSize"/],
  ];
  for (const [body, re] of bad)
    t.throws(() => parse({ 'add-lan': body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
});

test('parseRequest: set takes a name and an optional aging', (t) => {
  t.deepEqual(parse({ set: { name: 'lan0', aging: 5 } }), { verb: 'set', name: 'lan0', aging: 5 });
  t.deepEqual(parse({ set: { name: 'lan0' } }), { verb: 'set', name: 'lan0' });
  t.throws(() => parse({ set: { name: 'lan0', aging: -1 } }), { instanceOf: ProtocolError, message: /"aging"/ });
  t.throws(() => parse({ set: { name: 'lan0', 'mac-table-size': 8 } }), { instanceOf: ProtocolError, message: /unknown field/ });
});

test('parseRequest: set takes a link state, "up" or "down", alone or with a kind\'s settings', (t) => {
  t.deepEqual(parse({ set: { name: 'p1', state: 'down' } }), { verb: 'set', name: 'p1', state: 'down' });
  t.deepEqual(parse({ set: { name: 'p1', state: 'up' } }), { verb: 'set', name: 'p1', state: 'up' });
  t.like(parse({ set: { name: 'l1', state: 'down', delay: '20ms' } }), { verb: 'set', name: 'l1', state: 'down' });
  for (const state of ['Down', 'off', '', true, 0, null, ['down']])
    t.throws(() => parse({ set: { name: 'p1', state } }), { instanceOf: ProtocolError, message: /set: "state" must be "up" or "down"/ }, JSON.stringify(state));
  t.throws(() => parse({ set: { name: 'p1', admin: 'down' } }), { instanceOf: ProtocolError, message: /unknown field "admin" \(known: name, state, / });
});

test('parseRequest: del takes a name and a boolean force, false unless given', (t) => {
  t.deepEqual(parse({ del: { name: 'lan0' } }), { verb: 'del', name: 'lan0', force: false });
  t.deepEqual(parse({ del: { name: 'lan0', force: true } }), { verb: 'del', name: 'lan0', force: true });
  t.deepEqual(parse({ del: { name: 'lan0', force: false } }), { verb: 'del', name: 'lan0', force: false });
  for (const force of ['yes', 1, null])
    t.throws(() => parse({ del: { name: 'lan0', force } }), { instanceOf: ProtocolError, message: /"force" must be true or false/ });
  t.throws(() => parse({ del: {} }), { instanceOf: ProtocolError, message: /del: "name"/ });
});

test('parseRequest: show and version take no fields; stats an optional name', (t) => {
  t.deepEqual(parse({ show: {} }), { verb: 'show' });
  t.deepEqual(parse({ version: {} }), { verb: 'version' });
  t.deepEqual(parse({ stats: {} }), { verb: 'stats' });
  t.deepEqual(parse({ stats: { name: 'n1.eth0' } }), { verb: 'stats', name: 'n1.eth0' });
  t.throws(() => parse({ show: { all: true } }), { instanceOf: ProtocolError, message: /show: unknown field "all" \(known: none\)/ });
  t.throws(() => parse({ version: { v: 1 } }), { instanceOf: ProtocolError, message: /unknown field "v"/ });
  t.throws(() => parse({ stats: { name: 'a b' } }), { instanceOf: ProtocolError, message: /stats: "name"/ });
  t.throws(() => parse({ stats: { lan: 'x' } }), { instanceOf: ProtocolError, message: /unknown field "lan" \(known: name\)/ });
});

test('parseRequest: a verb\'s value must be an object', (t) => {
  for (const v of [null, [], 'x', 1, true])
    t.throws(() => parse({ show: v }), { instanceOf: ProtocolError, message: /show: its value must be an object/ }, JSON.stringify(v));
});

test('parseRequest: malformed JSON, non-objects, no verb and several verbs are refused', (t) => {
  t.throws(() => parseRequest('{"show":', undefined), { instanceOf: ProtocolError, message: /malformed JSON/ });
  t.throws(() => parseRequest('{show:{}}', undefined), { instanceOf: ProtocolError, message: /malformed JSON/ });
  for (const v of ['[]', '[{"show":{}}]', 'null', '"show"', '3'])
    t.throws(() => parseRequest(v, undefined), { instanceOf: ProtocolError, message: /expected a JSON object/ }, v);
  t.throws(() => parse({}), { instanceOf: ProtocolError, message: /empty request: no verb/ });
  t.throws(() => parse({ authtoken: 'x' }), { instanceOf: ProtocolError, message: /empty request/ });
  t.throws(() => parse({ show: {}, version: {} }), { instanceOf: ProtocolError, message: /one request per message, got show, version/ });
});

test('parseRequest: without a daemon token any authtoken is accepted and ignored, as the original did', (t) => {
  t.deepEqual(parse({ show: {} }), { verb: 'show' });
  t.deepEqual(parse({ authtoken: 'whatever', show: {} }), { verb: 'show' });
  t.deepEqual(parse({ authtoken: 42, show: {} }), { verb: 'show' });
});

test('parseRequest: with a daemon token the request must carry exactly that token', (t) => {
  t.deepEqual(parse({ authtoken: 's3cret', version: {} }, 's3cret'), { verb: 'version' });
  t.deepEqual(parse({ version: {}, authtoken: 's3cret' }, 's3cret'), { verb: 'version' }, 'field order does not matter');
  for (const req of [{ version: {} }, { authtoken: 'S3CRET', version: {} }, { authtoken: '', version: {} }, { authtoken: null, version: {} }])
    t.throws(() => parse(req, 's3cret'), { instanceOf: ProtocolError, message: /bad or missing authtoken/ }, JSON.stringify(req));
  // The token is checked before anything else: no hint about the request.
  t.throws(() => parse({ bogus: {} }, 's3cret'), { instanceOf: ProtocolError, message: /authtoken/ });
});

// ---------------------------------------------------------------- checkName

test('checkName: 1-64 characters of letters, digits and _.:@- starting with a letter or digit', (t) => {
  for (const ok of ['a', 'Z', '0', 'lan0', 'n1.eth0', 'a_b.c:d@e-f', 'x'.repeat(64), '9-9'])
    t.is(checkName(ok, 'name'), ok);
  for (const bad of ['', '-a', '_a', '.a', 'a b', 'a/b', 'x'.repeat(65), 'caf\u00e9', 'a\n', '\na', 'a$'])
    t.throws(() => checkName(bad, 'the thing'), { instanceOf: ProtocolError, message: /^the thing must be 1-64 characters/ }, JSON.stringify(bad));
  for (const bad of [undefined, null, 5, ['a'], { a: 1 }])
    t.throws(() => checkName(bad, 'name'), { instanceOf: ProtocolError }, String(bad));
  t.true(NAME_RE.test('a'.repeat(64)));
});

test('parseRequest: add-vhost takes a name and an absolute socket path; client, lan and thread are optional', (t) => {
  t.deepEqual(parse({ 'add-vhost': { name: 'vm1', socket: '/run/vm1.sock' } }), {
    verb: 'add-vhost',
    name: 'vm1',
    socket: '/run/vm1.sock',
    client: false,
  });
  t.deepEqual(parse({ 'add-vhost': { name: 'vm1', socket: '/run/vm1.sock', client: true, lan: 'l2', thread: 1 } }), {
    verb: 'add-vhost',
    name: 'vm1',
    socket: '/run/vm1.sock',
    client: true,
    lan: 'l2',
    thread: 1,
  });
  for (const [body, re] of [
    [{ socket: '/run/x.sock' }, /name/],
    [{ name: 'v' }, /"socket" must be a non-empty string/],
    [{ name: 'v', socket: 'relative.sock' }, /absolute path/],
    [{ name: 'v', socket: `/${'x'.repeat(107)}` }, /at most 107 bytes/],
    [{ name: 'v', socket: '/s', client: 'yes' }, /"client" must be true or false/],
    [{ name: 'v', socket: '/s', thread: -1 }, /"thread" must be an integer from 0/],
    [{ name: 'v', socket: '/s', queues: 2 }, /unknown field "queues"/],
  ] as const) {
    t.throws(() => parse({ 'add-vhost': body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
  }
});

test('parseRequest: add-node takes a hostname, a command, interfaces, routes, env, root and log; each refused with the field named', (t) => {
  t.deepEqual(parse({ 'add-node': { name: 'r1', command: ['sh'] } }), { verb: 'add-node', name: 'r1', command: ['sh'], env: {}, interfaces: [], routes: [] });
  t.deepEqual(
    parse({
      'add-node': {
        name: 'r1',
        command: ['/bin/sh', '-c', 'sleep infinity'],
        root: '/',
        env: { K: 'V' },
        interfaces: [{ ifname: 'e0', lan: 'lan0', addrs: ['10.0.0.1/24', 'fd00::1/64'], mtu: 1500, mac: '02:00:00:00:00:0A' }, { lan: 'l2' }, {}],
        routes: [{ dst: 'default', via: '10.0.0.254' }, { dst: 'fd01::/64', via: 'fd00::2' }],
        log: '/tmp/r1.log',
      },
    }),
    {
      verb: 'add-node',
      name: 'r1',
      command: ['/bin/sh', '-c', 'sleep infinity'],
      root: '/',
      env: { K: 'V' },
      interfaces: [
        { ifname: 'e0', lan: 'lan0', addrs: ['10.0.0.1/24', 'fd00::1/64'], mtu: 1500, mac: '02:00:00:00:00:0a' },
        { ifname: 'eth1', lan: 'l2', addrs: [], mtu: 64000, mac: null },
        { ifname: 'eth2', lan: undefined, addrs: [], mtu: 64000, mac: null },
      ],
      routes: [
        { dst: 'default', via: '10.0.0.254' },
        { dst: 'fd01::/64', via: 'fd00::2' },
      ],
      log: '/tmp/r1.log',
    },
  );
  const c = ['true'];
  for (const [body, re] of [
    [{ command: c }, /add-node: "name" must be 1-64/],
    [{ name: 'a_b', command: c }, /"name" a_b must be 1-63 letters, digits or '-'/],
    [{ name: 'a-', command: c }, /"name" a- must be 1-63/],
    [{ name: 'n' }, /"command" must be a non-empty list/],
    [{ name: 'n', command: 'true' }, /"command" must be a non-empty list/],
    [{ name: 'n', command: ['true', ''] }, /"command" must be a non-empty list of non-empty strings/],
    [{ name: 'n', command: c, root: 'rel' }, /"root" must be an absolute path/],
    [{ name: 'n', command: c, root: '/no/such/dir' }, /"root" \/no\/such\/dir is not a directory/],
    [{ name: 'n', command: c, env: ['K=V'] }, /"env" must be an object of strings/],
    [{ name: 'n', command: c, env: { '1K': 'v' } }, /"env" name "1K" must be letters/],
    [{ name: 'n', command: c, env: { K: 1 } }, /"env" K must be a string/],
    [{ name: 'n', command: c, interfaces: {} }, /"interfaces" must be a list/],
    [{ name: 'n', command: c, interfaces: ['eth0'] }, /"interfaces"\[0\] must be an object/],
    [{ name: 'n', command: c, interfaces: [{ lan: 'l', ip: [] }] }, /"interfaces"\[0\]: unknown field "ip"/],
    [{ name: 'n', command: c, interfaces: [{ lan: 'a,b' }] }, /"interfaces"\[0\] "lan" must be 1-64/],
    [{ name: 'n', command: c, interfaces: [{ ifname: 'x'.repeat(16) }] }, /"ifname" x+ must fit a device name/],
    [{ name: 'n', command: c, interfaces: [{ addrs: ['10.0.0.1'] }] }, /"interfaces"\[0\]: "addrs" "10.0.0.1" must be an address with its prefix length/],
    [{ name: 'n', command: c, interfaces: [{ addrs: ['10.0.0.1/24', '10.0.0.1/24'] }] }, /"addrs" gives 10.0.0.1\/24 twice/],
    [{ name: 'n', command: c, interfaces: [{ mtu: 67 }] }, /"mtu" must be an integer from 68 to 65521/],
    [{ name: 'n', command: c, interfaces: [{ mac: '01:00:5e:00:00:01' }] }, /"mac" 01:00:5e:00:00:01 is not a unicast address/],
    [{ name: 'n', command: c, interfaces: [{}, { ifname: 'eth0' }] }, /two interfaces are named eth0/],
    [{ name: 'n', command: c, interfaces: [{}], routes: [{ dst: 'default' }] }, /"routes"\[0\]: "via" must be a non-empty string/],
    [{ name: 'n', command: c, interfaces: [{}], routes: [{ dst: 'default', via: 'gw' }] }, /"via" gw must be an IPv4 or IPv6 address/],
    [{ name: 'n', command: c, interfaces: [{}], routes: [{ dst: '10.0.0.0', via: '10.0.0.1' }] }, /"dst" 10.0.0.0 must be "default" or ADDR\/PREFIX/],
    [{ name: 'n', command: c, interfaces: [{}], routes: [{ dst: '10.1.0.0/33', via: '10.0.0.1' }] }, /must be "default" or ADDR\/PREFIX/],
    [{ name: 'n', command: c, interfaces: [{}], routes: [{ dst: '10.1.0.1/16', via: '10.0.0.1' }] }, /"dst" 10.1.0.1\/16 has bits set past its prefix length/],
    [{ name: 'n', command: c, interfaces: [{}], routes: [{ dst: 'fd01::1/64', via: 'fd00::1' }] }, /has bits set past its prefix length/],
    [{ name: 'n', command: c, interfaces: [{}], routes: [{ dst: 'fd01::/64', via: '10.0.0.1' }] }, /are not of one family/],
    [{ name: 'n', command: c, routes: [{ dst: 'default', via: '10.0.0.1' }] }, /"routes" need an interface/],
    [{ name: 'n', command: c, log: 'out.log' }, /"log" must be an absolute path/],
    [{ name: 'n', command: c, restart: true }, /unknown field "restart"/],
  ] as [Record<string, unknown>, RegExp][])
    t.throws(() => parse({ 'add-node': body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
});

test('parseRequest: add-tap takes a device name, addresses (IPv4 and IPv6), an MTU, a MAC; each refused with the field named', (t) => {
  t.deepEqual(parse({ 'add-tap': { name: 'ht0' } }), { verb: 'add-tap', name: 'ht0', ip: [] });
  t.deepEqual(parse({ 'add-tap': { name: 'ht0', lan: 'l2', ip: ['10.0.0.1/24', 'fd00::1/64'], mtu: 9000, mac: '02:AA:00:00:00:01', thread: 1 } }), {
    verb: 'add-tap',
    name: 'ht0',
    lan: 'l2',
    ip: ['10.0.0.1/24', 'fd00::1/64'],
    mtu: 9000,
    mac: '02:aa:00:00:00:01',
    thread: 1,
  });
  t.deepEqual((parse({ 'add-tap': { name: 'ht0', ip: '10.0.0.1/8' } }) as { ip: string[] }).ip, ['10.0.0.1/8']);
  for (const [body, re] of [
    [{}, /"name" must be 1-64/],
    [{ name: 'x'.repeat(16) }, /must fit a device name: 1-15 characters/],
    [{ name: 'a:b' }, /must fit a device name/],
    [{ name: 't', ip: ['10.0.0.1'] }, /"ip" "10.0.0.1" must be an address with its prefix length/],
    [{ name: 't', ip: ['10.0.0.1/33'] }, /must be an address with its prefix length/],
    [{ name: 't', ip: ['10.0.0.256/24'] }, /must be an address with its prefix length/],
    [{ name: 't', ip: ['fd00::1/129'] }, /must be an address with its prefix length/],
    [{ name: 't', ip: ['fe80::1%eth0/64'] }, /must be an address with its prefix length/],
    [{ name: 't', ip: ['224.0.0.1/4'] }, /not a unicast address/],
    [{ name: 't', ip: ['ff02::1/64'] }, /not a unicast address/],
    [{ name: 't', ip: [5] }, /must be an address/],
    [{ name: 't', ip: ['10.0.0.1/24', '10.0.0.1/24'] }, /gives 10.0.0.1\/24 twice/],
    [{ name: 't', mtu: 67 }, /"mtu" must be an integer from 68 to 65521/],
    [{ name: 't', mtu: 65522 }, /"mtu" must be an integer from 68 to 65521/],
    [{ name: 't', mac: '02:00:00:00:00' }, /"mac" must be six hex bytes/],
    [{ name: 't', mac: '01:00:5e:00:00:01' }, /not a unicast address/],
    [{ name: 't', mac: '00:00:00:00:00:00' }, /not a unicast address/],
    [{ name: 't', persist: true }, /unknown field "persist"/],
  ] as const) {
    t.throws(() => parse({ 'add-tap': body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
  }
});

test('parseRequest: add-dpdk takes a name and devargs, lan optional; add-lan takes ovs', (t) => {
  t.deepEqual(parse({ 'add-dpdk': { name: 'd1', devargs: 'net_tap0,iface=x', lan: 'fast' } }), { verb: 'add-dpdk', name: 'd1', devargs: 'net_tap0,iface=x', lan: 'fast' });
  t.throws(() => parse({ 'add-dpdk': { name: 'd1' } }), { instanceOf: ProtocolError, message: /"devargs" must be a non-empty string/ });
  t.throws(() => parse({ 'add-dpdk': { name: 'd1', devargs: 'a b' } }), { instanceOf: ProtocolError, message: /without spaces/ });
  t.deepEqual(parse({ 'add-lan': { name: 'fast', ovs: true } }), { verb: 'add-lan', name: 'fast', ovs: true });
  t.throws(() => parse({ 'add-lan': { name: 'fast', ovs: 'yes' } }), { instanceOf: ProtocolError, message: /"ovs" must be true or false/ });
});

test('parseRequest: add-phy takes an interface name; the port is named after it unless name says; lan, thread and tpacket are optional', (t) => {
  t.deepEqual(parse({ 'add-phy': { ifname: 'eth1' } }), { verb: 'add-phy', ifname: 'eth1', name: 'eth1' });
  t.deepEqual(parse({ 'add-phy': { ifname: 'enp3s0f1', name: 'uplink', lan: 'l2', thread: 1, tpacket: 2 } }), {
    verb: 'add-phy',
    ifname: 'enp3s0f1',
    name: 'uplink',
    lan: 'l2',
    thread: 1,
    tpacket: 2,
  });
  for (const [body, re] of [
    [{}, /"ifname" must be a non-empty string/],
    [{ ifname: 'a'.repeat(16) }, /is not an interface name/],
    [{ ifname: 'a/b' }, /is not an interface name/],
    [{ ifname: 'a b' }, /is not an interface name/],
    [{ ifname: 'eth0:1' }, /is not an interface name/],
    [{ ifname: 'eth1', name: 'bad name' }, /name/],
    [{ ifname: 'eth1', thread: -1 }, /"thread" must be an integer from 0/],
    [{ ifname: 'eth1', promisc: false }, /unknown field "promisc"/],
    [{ ifname: 'eth1', tpacket: 1 }, /"tpacket" must be an integer from 2 to 3/],
    [{ ifname: 'eth1', tpacket: 4 }, /"tpacket" must be an integer from 2 to 3/],
  ] as const) {
    t.throws(() => parse({ 'add-phy': body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
  }
});

test('parseRequest: add-mirror takes ports to select, a direction (default both) and an output; each refused with the field named', (t) => {
  t.deepEqual(parse({ 'add-mirror': { name: 'm', select: ['a', 'b'], to: 'c' } }), { verb: 'add-mirror', name: 'm', select: ['a', 'b'], dir: 'both', to: 'c' });
  t.is((parse({ 'add-mirror': { name: 'm', select: ['a'], to: 'c', dir: 'in' } }) as { dir: string }).dir, 'in');
  for (const [body, re] of [
    [{ name: 'm', select: [], to: 'c' }, /"select" must be a non-empty list of port names/],
    [{ name: 'm', select: 'a', to: 'c' }, /"select" must be a non-empty list of port names/],
    [{ name: 'm', select: [''], to: 'c' }, /"select"\[0\]/],
    [{ name: 'm', select: ['a', 'a'], to: 'c' }, /"select" names "a" twice/],
    [{ name: 'm', select: ['a'], to: 'a' }, /port "a" cannot be both selected and the output/],
    [{ name: 'm', select: ['a'] }, /"to"/],
    [{ name: 'm', select: ['a'], to: 'c', dir: 'up' }, /"dir" must be "in", "out" or "both"/],
    [{ name: 'm', select: ['a'], to: 'c', filter: 'icmp' }, /unknown field "filter"/],
  ] as const) {
    t.throws(() => parse({ 'add-mirror': body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
  }
});

test('parseRequest: add-nat takes its addresses from a CIDR (gateway .2, DNS .3, leases from .15) and checks forwards', (t) => {
  const r = parse({ 'add-nat': { name: 'n1' } }) as Extract<Request, { verb: 'add-nat' }>;
  t.deepEqual(r.addresses, { net: '10.0.2.0', mask: '255.255.255.0', prefix: 24, gateway: '10.0.2.2', dns: '10.0.2.3', dhcpStart: '10.0.2.15' });
  t.is(r.mtu, 65520);
  t.true(r.hostLoopback);
  const r2 = parse({
    'add-nat': { name: 'n2', net: '172.20.0.0/16', forward: ['udp:127.0.0.1:5353:172.20.0.15:53'], 'host-loopback': false, mtu: 1500, lan: 'l' },
  }) as Extract<Request, { verb: 'add-nat' }>;
  t.is(r2.addresses.gateway, '172.20.0.2');
  t.deepEqual(r2.forwards, [{ udp: true, hostAddr: '127.0.0.1', hostPort: 5353, guestAddr: '172.20.0.15', guestPort: 53 }]);
  t.false(r2.hostLoopback);
  t.deepEqual((parse({ 'add-nat': { name: 'n3', 'dns-upstream': '127.0.0.1' } }) as Extract<Request, { verb: 'add-nat' }>).dnsUpstream, { addr: '127.0.0.1', port: 53 });
  t.deepEqual((parse({ 'add-nat': { name: 'n3', 'dns-upstream': '127.0.0.1:5353' } }) as Extract<Request, { verb: 'add-nat' }>).dnsUpstream, { addr: '127.0.0.1', port: 5353 });
  for (const [body, re] of [
    [{ name: 'n', 'dns-upstream': 'localhost' }, /DNS upstream/],
    [{ name: 'n', 'dns-upstream': '127.0.0.1:99999' }, /DNS upstream/],
    [{ name: 'n', net: '10.0.2.1/24' }, /host bits set/],
    [{ name: 'n', net: '10.0.2.0/30' }, /prefix from 8 to 28/],
    [{ name: 'n', net: 'ten' }, /IPv4 CIDR/],
    [{ name: 'n', forward: ['tcp:127.0.0.1:80'] }, /tcp\|udp:HOSTADDR/],
    [{ name: 'n', forward: ['tcp:127.0.0.1:0:10.0.2.15:80'] }, /tcp\|udp:HOSTADDR/],
    [{ name: 'n', forward: 'tcp:127.0.0.1:80:10.0.2.15:80' }, /list of strings/],
    [{ name: 'n', mtu: 100 }, /"mtu" must be an integer from 576/],
    [{ name: 'n', 'host-loopback': 'no' }, /true or false/],
  ] as const) {
    t.throws(() => parse({ 'add-nat': body }), { instanceOf: ProtocolError, message: re }, JSON.stringify(body));
  }
});

test('parseRequest: a request may name the lab whose objects it makes ("lab", an object name); set keeps its own fields apart from it', (t) => {
  t.is(parse({ 'add-lan': { name: 'x' }, lab: 'lab1' }).lab, 'lab1');
  t.is(parse({ 'add-lan': { name: 'x' } }).lab, undefined);
  const s = parse({ set: { name: 'x', aging: 5 }, lab: 'lab1' });
  t.like(s, { verb: 'set', name: 'x', aging: 5, lab: 'lab1' });
  t.throws(() => parse({ 'add-lan': { name: 'x' }, lab: 'no spaces' }), { instanceOf: ProtocolError, message: /"lab" must be 1-64 characters/ });
  t.throws(() => parse({ 'add-lan': { name: 'x' }, lab: 7 }), { instanceOf: ProtocolError, message: /"lab"/ });
  t.throws(() => parse({ lab: 'lab1' }), { instanceOf: ProtocolError, message: /empty request: no verb/ });
});
