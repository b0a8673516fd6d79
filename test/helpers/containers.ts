/**
 * Containers for end-to-end tests: a containode running an interactive shell on
 * a test daemon's switch, commands typed into it, and the daemon's port list.
 */
import type { ExecutionContext } from 'ava';

import { startContainode, uniqueName, waitFor, type TestContainer, type TestDaemon } from './env.js';

/** Names of the ports the daemon shows. */
export async function portNames(d: TestDaemon): Promise<string[]> {
  const r = (await d.request({ show: {} })) as { objects: { kind: string; name: string }[] };
  return r.objects.filter((o) => o.kind === 'port').map((o) => o.name);
}

/**
 * Type @cmd into the interactive shell of container @c and wait for its exit
 * status, which the shell prints after a unique marker.
 */
export async function shell(c: TestContainer, cmd: string, timeoutMs = 30000): Promise<number> {
  const marker = uniqueName('rc');
  c.child.stdin!.write(`${cmd}; echo ${marker}=$?\n`);
  const re = new RegExp(`${marker}=(\\d+)`);
  const m = await waitFor(`"${cmd}" to finish`, () => re.exec(c.output()), timeoutMs);
  return Number(m![1]);
}

/** A container started by shellContainer. */
export interface ShellContainer {
  /** its identity (the port is ID.eth0) */
  id: string;
  c: TestContainer;
}

/** Start `containode [-4 ADDR] -s SOCK -i ID [extra] -- /bin/sh` and wait for its
 *  port (@addr null: no address, as for a DHCP client). */
export async function shellContainer(t: ExecutionContext, d: TestDaemon, addr: string | null, extra: string[] = []): Promise<ShellContainer> {
  const id = uniqueName('n');
  const c = startContainode(t, [...(addr ? ['-4', addr] : []), '-s', d.sock, '-i', id, ...extra, '--', '/bin/sh']);
  await waitFor(`port ${id}.eth0`, async () => (await portNames(d)).includes(`${id}.eth0`), 20000);
  return { id, c };
}

