/**
 * Every kind of object, registered by loading its module: one line per kind, in
 * the order `show` and `stats` list them (see registry.ts, and
 * docs/adding-a-kind.md). Whoever dispatches through the registry imports this
 * module once.
 */
import './lan.js';
import './fd.js';
import './vhost.js';
import './dpdk.js';
import './tap.js';
import './nat/index.js';
import './a2b/index.js';
import './capture.js';
import './phy.js';
import './mirror.js';
import './tunnel/index.js';
// The nodes' section of topology files, until the node kind's module brings it.
import './node-topology.js';

export { kindOf, kinds, kindVerbs, sections, setFields, setKeyOwner, verbNamed } from './registry.js';
