/**
 * The pure parts of driving Open vSwitch: OVSDB's JSON notation decoded, a
 * `--format=json list` table read, commands batched into one transaction, and
 * the names given to what containet makes.
 */
import test from 'ava';

import { bridgeName, joinDeviceName, joinPortName, mirrorOutputName, portName, OVS_LAN_NAME_RE } from '../src/ovs/names.js';
import { batch, decodeOvsdb, decodeTable } from '../src/ovs/vsctl.js';

test('decodeOvsdb: atoms as they are, uuids as strings, sets as arrays, maps as objects', (t) => {
  t.is(decodeOvsdb('up'), 'up');
  t.is(decodeOvsdb(5), 5);
  t.is(decodeOvsdb(['uuid', 'd341']), 'd341');
  t.deepEqual(decodeOvsdb(['set', []]), []);
  t.deepEqual(decodeOvsdb(['set', [1, 2]]), [1, 2]);
  t.deepEqual(decodeOvsdb(['map', [['rx_packets', 3], ['dpdk-devargs', 'net_tap0']]]), { rx_packets: 3, 'dpdk-devargs': 'net_tap0' });
  t.deepEqual(decodeOvsdb(['set', [['uuid', 'a'], ['uuid', 'b']]]), ['a', 'b']);
});

test('decodeTable: headings and rows to records', (t) => {
  const json = JSON.stringify({ data: [['_j_x', ['set', []], ['map', [['rx_packets', 7]]]]], headings: ['name', 'error', 'statistics'] });
  t.deepEqual(decodeTable(json), [{ name: '_j_x', error: [], statistics: { rx_packets: 7 } }]);
});

test('batch: commands joined with -- into one ovs-vsctl run', (t) => {
  t.deepEqual(batch([['add-br', 'b'], ['set', 'Bridge', 'b', 'datapath_type=netdev']]), ['add-br', 'b', '--', 'set', 'Bridge', 'b', 'datapath_type=netdev']);
  t.deepEqual(batch([['--if-exists', 'del-br', 'a'], ['--if-exists', 'del-br', 'b']]), ['--if-exists', 'del-br', 'a', '--', '--if-exists', 'del-br', 'b']);
  t.deepEqual(batch([]), []);
});

test("names: cloonix's _b_, _k_ and s_k_, the join's; an OVS lan's name fits a device name", (t) => {
  t.is(bridgeName('lan1'), '_b_lan1');
  t.is(portName('vm1'), '_k_vm1_0');
  t.is(portName('vm1', 2), '_k_vm1_2');
  t.is(mirrorOutputName('vm1'), 's_k_vm1_0');
  t.is(joinPortName('lan1'), '_j_lan1');
  t.is(joinDeviceName('lan1'), 'net_virtio_user_j_lan1');
  t.true(OVS_LAN_NAME_RE.test('abcdefghijkl'));
  t.false(OVS_LAN_NAME_RE.test('abcdefghijklm'));
  t.false(OVS_LAN_NAME_RE.test('a:b'));
  t.true(bridgeName('abcdefghijkl').length <= 15);
});
