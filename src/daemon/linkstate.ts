/**
 * Administrative link state: `set NAME --down|--up`, on the wire
 * `{"set": {"name": NAME, "state": "down"|"up"}}` (docs/linkstate.md). A field
 * of set that is no kind's: every object with engine ports takes it, whatever
 * its kind (found through Kind.ports(): a port's one port, an a2b's two), and
 * every object without (a lan, a capture, a mirror, a port Open vSwitch runs)
 * refuses it. Down is a pulled link: the engine drops what each port receives
 * and what its lan sends it, counted admin_down_rx and admin_down_tx, from the
 * moment the engine call returns, so before the reply. The state is the
 * object's (ModelObject.adminDown): shown, and kept in the state file.
 */
import type { Command } from 'commander';
import { Option } from 'commander';

import type { Kind, KindCli, KindContext } from '../kinds/kind.js';
import { ProtocolError, article, type Body } from './fields.js';
import type { ModelObject } from './model.js';

/** An object's administrative state. */
export type LinkState = 'up' | 'down';

/** The field of set that carries it. */
export const LINK_STATE_FIELD = 'state';

/** The "state" field of set body @b, if present; throws naming the field. */
export function parseLinkState(b: Body): LinkState | undefined {
  const v = b[LINK_STATE_FIELD];
  if (v === undefined) return undefined;
  if (v !== 'up' && v !== 'down') throw new ProtocolError(`set: "${LINK_STATE_FIELD}" must be "up" or "down"`);
  return v;
}

/** Refuse a link state on @o (of kind @k) when it has no engine ports to take
 *  down: the message says what it is. */
export function checkLinkState(o: ModelObject, k: Kind): void {
  if ((o as { ovs?: unknown }).ovs !== undefined)
    throw new ProtocolError(`"${o.name}" is a port Open vSwitch runs (docs/ovs.md): containet cannot take it down; use ovs-ofctl mod-port`);
  if (!k.ports(o).length)
    throw new ProtocolError(`"${o.name}" is ${article(k.noun)}: it has no ports of its own to take down or up (only ports and a2bs have a link state)`);
}

/** Put every engine port of @o (of kind @k) in state @state, and record it on
 *  @o. In force on every worker when this returns. */
export function applyLinkState(ctx: KindContext, o: ModelObject, k: Kind, state: LinkState): void {
  for (const id of k.ports(o)) ctx.call((e) => e.setPortAdmin(id, state === 'down'));
  const was = o.adminDown === true;
  o.adminDown = state === 'down';
  if (was !== o.adminDown) ctx.log.info(`${k.noun} ${o.name}: administratively ${state}`);
}

/** What show adds to @o's entry: its state, when it has engine ports. */
export function showLinkState(o: ModelObject, k: Kind): { admin?: LinkState } {
  return k.ports(o).length ? { admin: o.adminDown ? 'down' : 'up' } : {};
}

/** The STATE column of a show table: "down (admin)" for an object set down,
 *  else @state ("-" when empty). */
export function stateColumn(entry: Record<string, unknown>, state: unknown = entry.state): string {
  return entry.admin === 'down' ? 'down (admin)' : String(state || '-');
}

/** The options of `containet set` for it, and the body field they make. */
export const LINK_STATE_CLI: NonNullable<KindCli['set']> = {
  help: 'the link state of a port or an a2b (--down: drops both ways, counted; --up)',
  /** Declare --down and --up (not both) on the set command. */
  configure(cmd: Command): void {
    cmd
      .addOption(new Option('--down', 'a port or a2b: take it administratively down (a pulled link: drops both ways, counted admin_down_rx/_tx)').conflicts('up'))
      .addOption(new Option('--up', 'a port or a2b: put it back up'));
  },
  /** The body field from the parsed options. */
  body(opts: Record<string, unknown>): Body {
    if (opts.down === true) return { [LINK_STATE_FIELD]: 'down' };
    if (opts.up === true) return { [LINK_STATE_FIELD]: 'up' };
    return {};
  },
};
