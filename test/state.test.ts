/**
 * The state file (src/daemon/state.ts) alone: what it accepts and refuses, and
 * that a write replaces the file whole through FILE.tmp, which a crash may
 * have left behind.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { STATE_VERSION, StateError, StateFile, parseState } from '../src/daemon/state.js';

/** A lan entry as the daemon writes one. */
const LAN = { kind: 'lan', name: 'lan0', created: '2026-01-01T00:00:00.000Z', record: { aging: 300, macTableSize: 8192 } };

test('parseState takes version 1 with its objects', (t) => {
  const doc = parseState('f', JSON.stringify({ version: 1, objects: [LAN] }));
  t.is(doc.version, 1);
  t.deepEqual(doc.objects, [LAN]);
});

test('parseState keeps an object\'s administrative state ("admin": "down", docs/linkstate.md)', (t) => {
  const down = { kind: 'a2b', name: 'l1', created: LAN.created, record: { a: 'x', b: 'y' }, admin: 'down' };
  t.deepEqual(parseState('f', JSON.stringify({ version: 1, objects: [LAN, down] })).objects, [LAN, down]);
});

for (const [what, text, reason] of [
  ['not JSON', '{"version": 1', /state file f: not JSON/],
  ['null', 'null', /not a containet state/],
  ['a version that is not an integer', '{"version": "1", "objects": []}', /"version" must be an integer/],
  ['a newer version', `{"version": ${STATE_VERSION + 1}, "objects": []}`, /is newer than this containet reads/],
  ['objects not a list', '{"version": 1, "objects": null}', /"objects" must be a list/],
  ['an entry without a record', '{"version": 1, "objects": [{"kind": "lan", "name": "a", "created": "x"}]}', /objects\[0\] must have/],
  ['a name twice', JSON.stringify({ version: 1, objects: [LAN, LAN] }), /the name "lan0" comes twice/],
  ['an "admin" other than "down"', JSON.stringify({ version: 1, objects: [{ ...LAN, name: 'p', kind: 'fd', admin: 'up' }] }), /objects\[0\] \("p"\): "admin" must be "down" when present/],
] as const) {
  test(`parseState refuses ${what}, naming the file`, (t) => {
    const e = t.throws(() => parseState('f', text), { instanceOf: StateError });
    t.regex(e!.message, reason);
    t.regex(e!.message, /refusing to start \(the file is left as it is\)/);
  });
}

test('StateFile: no file is an empty state; a write goes through FILE.tmp (a leftover one is written over) and reads back', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'containet-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state.json');
  const s = new StateFile(file);
  t.deepEqual(s.load(), []);
  writeFileSync(`${file}.tmp`, 'half a file from a crash');
  s.write([LAN]);
  t.false(existsSync(`${file}.tmp`), 'renamed into place');
  t.deepEqual(parseState(file, readFileSync(file, 'utf8')).objects, [LAN]);
  t.deepEqual(new StateFile(file).load(), [LAN]);
});

test('parseState keeps the lab an object belongs to, and refuses one that is not a string', (t) => {
  const withLab = { ...LAN, lab: 'lab1' };
  t.deepEqual(parseState('f', JSON.stringify({ version: 1, objects: [withLab] })).objects, [withLab]);
  t.throws(() => parseState('f', JSON.stringify({ version: 1, objects: [{ ...LAN, lab: 3 }] })), { instanceOf: StateError, message: /objects\[0\]: "lab" must be a string/ });
});
