/**
 * Containers for end-to-end tests: a containode running an interactive shell on
 * a test daemon's switch, commands typed into it, the daemon's port list, and
 * a tiny busybox root filesystem.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { startContainode, tail, tempDir, uniqueName, waitFor, type TestContainer, type TestDaemon } from './env.js';

/** Names of the ports the daemon shows. */
export async function portNames(d: TestDaemon): Promise<string[]> {
  const r = (await d.request({ show: {} })) as { objects: { kind: string; name: string }[] };
  return r.objects.filter((o) => o.kind === 'port').map((o) => o.name);
}

/**
 * Type @cmd into the interactive shell of container @c and wait for its exit
 * status, which the shell prints on stdout after a unique marker (looked for
 * in stdout alone, as a whole line: what the command prints on stderr comes
 * on another pipe and may be read in the middle of it).
 */
export async function shell(c: TestContainer, cmd: string, timeoutMs = 30000): Promise<number> {
  const marker = uniqueName('rc');
  c.child.stdin!.write(`${cmd}; echo ${marker}=$?\n`);
  const re = new RegExp(`${marker}=(\\d+)\n`);
  const m = await c.untilStdout(`"${cmd}" to finish`, (out) => re.exec(out), timeoutMs);
  return Number(m[1]);
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
  // Setting a container up takes a while on a busy machine; containode that fails says why, and ends.
  let ended: number | undefined;
  void c.closed.then((s) => (ended = s));
  const has = async () => (await portNames(d)).includes(`${id}.eth0`);
  await waitFor(`port ${id}.eth0`, async () => ended !== undefined || (await has()), 60000).catch((e: Error) => {
    throw new Error(`${e.message}; containode printed: ${tail(c.output()) || '(nothing)'}`);
  });
  if (!(await has())) throw new Error(`containode ended (${ended}) before its port ${id}.eth0 showed: ${tail(c.output())}`);
  return { id, c };
}


/**
 * A tiny root filesystem in a temp dir: busybox-static and a few applets, an
 * /etc/passwd whose root lives in /home/boss, and empty /proc, /dev, /sys.
 */
export function busyboxRoot(t: ExecutionContext): { dir: string; root: string } {
  const dir = tempDir(t);
  const root = path.join(dir, 'root');
  for (const d of ['bin', 'etc', 'home/boss', 'tmp', 'proc', 'dev', 'sys']) mkdirSync(path.join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  for (const applet of ['sh', 'ls', 'cat', 'hostname', 'ip', 'ping', 'echo', 'env', 'test', 'readlink', 'sleep', 'pwd'])
    symlinkSync('busybox', path.join(root, 'bin', applet));
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/home/boss:/bin/sh\n');
  return { dir, root };
}
