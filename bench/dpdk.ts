/**
 * DPDK testpmd for the vhost-user paths: a virtio_user frontend (or any vdev,
 * e.g. DPDK's own vhost backend `net_vhost0`), run interactive so its port
 * counters are read exactly and on demand (`show port stats all`) and
 * forwarding is started and stopped between repetitions.
 *
 * Every testpmd is started by the bench and stopped by its pid (a clean `quit`
 * first, then SIGTERM, then SIGKILL); it gets a `--file-prefix` of its own that
 * starts with the run id, and its runtime directory /var/run/dpdk/<prefix> is
 * removed afterwards. Memory is `--no-huge -m 512`: hugepages are never touched.
 */
import { existsSync, lstatSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';

import { findExecutable } from '../test/helpers/guestimage.js';
import { sleep, start, type Proc } from './proc.js';
import type { Scope } from './scope.js';

/** The directory DPDK keeps a process's runtime files in, by --file-prefix. */
export const DPDK_RUNTIME_DIR = '/var/run/dpdk';

/** Why testpmd cannot run here, or null when it can. */
export function testpmdMissing(): string | null {
  if (!findExecutable('dpdk-testpmd')) return 'dpdk-testpmd is not installed (apt-get install dpdk-dev)';
  if (!findExecutable('stdbuf')) return 'stdbuf (coreutils) is not installed';
  return null;
}

/** One port's counters from `show port stats all`. */
export interface PortStats {
  port: number;
  rxPackets: number;
  rxMissed: number;
  txPackets: number;
  txErrors: number;
}

/** Parse every `NIC statistics for port N` block of @text. */
export function parsePortStats(text: string): PortStats[] {
  return text
    .split(/#+ NIC statistics for port\s+/)
    .slice(1)
    .map((b) => {
      /** The number after @re in this block (NaN when absent). */
      const num = (re: RegExp) => Number(re.exec(b)?.[1] ?? NaN);
      return {
        port: num(/^(\d+)/),
        rxPackets: num(/RX-packets:\s*(\d+)/),
        rxMissed: num(/RX-missed:\s*(\d+)/),
        txPackets: num(/TX-packets:\s*(\d+)/),
        txErrors: num(/TX-errors:\s*(\d+)/),
      };
    });
}

/** How to start one testpmd. */
export interface TestpmdSpec {
  /** For messages: "A", "B", "backend". */
  label: string;
  /** --file-prefix: unique, starting with the run id. */
  prefix: string;
  /** EAL --lcores: the main lcore and exactly one forwarding lcore, e.g. `0@(0,1),1@0`. */
  lcores: string;
  /** The --vdev strings, e.g. `net_virtio_user0,path=SOCK,mac=MAC`. */
  vdevs: string[];
  /** Forwarding mode. */
  mode: 'txonly' | 'rxonly' | 'io';
  /** More testpmd (application) arguments, e.g. --txpkts=64, --eth-peer=0,MAC. */
  args?: string[];
  /**
   * A virtio_user client frontend whose backend's socket may not take it yet:
   * wait for the socket and restart testpmd until its probe succeeds, up to
   * this many ms (a client virtio_user does not retry by itself).
   */
  connectTimeoutMs?: number;
}

/** A running testpmd. */
export interface Testpmd {
  proc: Proc;
  prefix: string;
  /** Run one interactive command; resolves with its answer (up to the next prompt). */
  command(cmd: string, timeoutMs?: number): Promise<string>;
  /** Counters of @port (default 0). */
  stats(port?: number): Promise<PortStats>;
  /** Resolves when @port's link is up. */
  waitLinkUp(port?: number, timeoutMs?: number): Promise<void>;
}

const PROMPT = 'testpmd> ';

/** Remove @p if it is a unix socket. */
function removeSocket(p: string): void {
  try {
    if (lstatSync(p).isSocket()) unlinkSync(p);
  } catch {
    // not there
  }
}

/** The sockets a vdev of @vdevs creates as a server (DPDK unlinks them on a clean exit only). */
function serverSockets(vdevs: string[]): string[] {
  const out: string[] = [];
  for (const v of vdevs) {
    const kv = Object.fromEntries(v.split(',').slice(1).map((s) => s.split('=') as [string, string]));
    if (v.startsWith('net_vhost') && kv.iface && kv.client !== '1') out.push(kv.iface);
    if (v.startsWith('net_virtio_user') && kv.path && kv.server === '1') out.push(kv.path);
  }
  return out;
}

/** The last lines of @text worth quoting in an error. */
function why(text: string): string {
  const lines = text.split('\n').filter((l) => /virtio|vhost|[Ff]ail|probe|rror|EAL/.test(l));
  return (lines.length > 0 ? lines : text.split('\n')).slice(-4).join(' / ').trim();
}

/**
 * Start testpmd as @spec says and wait for its prompt (ports probed);
 * @scope stops it by pid and removes its runtime directory and server sockets.
 *
 *   [setpriv --pdeathsig KILL] stdbuf -o0 -e0 dpdk-testpmd --lcores L --no-pci --no-huge -m 512
 *     --file-prefix=P --vdev=V... -- -i --total-num-mbufs=32768 --forward-mode=M ARGS...
 *
 * stdbuf: testpmd's stdout is fully buffered on a pipe, and the answers to
 * commands are read from it. setpriv: the kernel kills testpmd should the
 * bench itself die without cleaning up.
 */
export async function startTestpmd(scope: Scope, spec: TestpmdSpec): Promise<Testpmd> {
  const bin = findExecutable('dpdk-testpmd');
  if (!bin) throw new Error('dpdk-testpmd is not installed');
  const clientSocket = spec.vdevs
    .map((v) => (v.startsWith('net_virtio_user') && !v.includes('server=1') ? /path=([^,]+)/.exec(v)?.[1] : undefined))
    .find((s) => s !== undefined);
  const deadline = Date.now() + (spec.connectTimeoutMs ?? 10000);
  for (let attempt = 1; ; attempt++) {
    if (clientSocket) while (!existsSync(clientSocket) && Date.now() < deadline) await sleep(50);
    const pmd = await startOnce(scope, bin, spec);
    if (pmd.ok) return pmd.pmd;
    if (!clientSocket || Date.now() > deadline)
      throw new Error(`testpmd ${spec.label} could not probe its port (${attempt} attempt(s)): ${pmd.reason}`);
    await sleep(200);
  }
}

/** One attempt of startTestpmd: the testpmd, or why its port did not come up (it is stopped then). */
async function startOnce(scope: Scope, bin: string, spec: TestpmdSpec): Promise<{ ok: true; pmd: Testpmd } | { ok: false; reason: string }> {
  const runDir = path.join(DPDK_RUNTIME_DIR, spec.prefix);
  const sockets = serverSockets(spec.vdevs);
  const argv = [
    '-o0', '-e0', bin,
    '--lcores', spec.lcores,
    '--no-pci', '--no-huge', '-m', '512',
    `--file-prefix=${spec.prefix}`,
    ...spec.vdevs.map((v) => `--vdev=${v}`),
    '--',
    '-i',
    '--total-num-mbufs=32768',
    `--forward-mode=${spec.mode}`,
    ...(spec.args ?? []),
  ];
  const setpriv = findExecutable('setpriv');
  const stdbuf = findExecutable('stdbuf') ?? 'stdbuf';
  const full = setpriv ? [setpriv, '--pdeathsig', 'KILL', stdbuf, ...argv] : [stdbuf, ...argv];
  let proc: Proc | undefined;
  /** Quit cleanly (closes its vhost connections), then TERM and KILL by pid; remove its files. */
  const stop = async () => {
    if (proc && !proc.hasExited()) {
      if (proc.output().includes(PROMPT)) proc.write('quit\n');
      await Promise.race([proc.exited, sleep(5000)]);
      await proc.stop('SIGTERM', 3000);
    }
    rmSync(runDir, { recursive: true, force: true });
    for (const s of sockets) removeSocket(s);
  };
  scope.defer(`stop testpmd ${spec.label} (${spec.prefix})`, stop);
  proc = start(full[0]!, full.slice(1), { stdin: true });
  const p = proc;
  const deadline = Date.now() + 30000;
  while (!p.output().includes(PROMPT)) {
    if (p.hasExited()) return { ok: false, reason: `exited: ${why(p.output())}` };
    if (Date.now() > deadline) {
      await stop();
      return { ok: false, reason: `no prompt after 30 s: ${why(p.output())}` };
    }
    await sleep(50);
  }
  if (/No probed ethernet devices|Failed to setup backend|probe failed|Start ports failed|failed to bind/.test(p.output())) {
    await stop();
    return { ok: false, reason: why(p.output()) };
  }
  for (const s of sockets) {
    while (!existsSync(s)) {
      if (Date.now() > deadline) throw new Error(`testpmd ${spec.label}: no socket ${s}`);
      await sleep(50);
    }
  }

  // Commands run one at a time: each is written, then its answer read up to the next prompt.
  let queue: Promise<unknown> = Promise.resolve();
  const command = (cmd: string, timeoutMs = 15000): Promise<string> => {
    const run = queue.then(async () => {
      const mark = p.output().length;
      p.write(`${cmd}\n`);
      const end = Date.now() + timeoutMs;
      while (p.output().indexOf(PROMPT, mark) < 0) {
        if (p.hasExited()) throw new Error(`testpmd ${spec.label} exited during '${cmd}': ${why(p.output())}`);
        if (Date.now() > end) throw new Error(`testpmd ${spec.label} does not answer '${cmd}'`);
        await sleep(2);
      }
      const out = p.output();
      return out.slice(mark, out.indexOf(PROMPT, mark));
    });
    queue = run.catch(() => undefined);
    return run;
  };
  const stats = async (port = 0) => {
    const s = parsePortStats(await command('show port stats all')).find((x) => x.port === port);
    if (!s) throw new Error(`testpmd ${spec.label} has no port ${port}`);
    return s;
  };
  return {
    ok: true,
    pmd: {
      proc: p,
      prefix: spec.prefix,
      command,
      stats,
      waitLinkUp: async (port = 0, timeoutMs = 15000) => {
        const end = Date.now() + timeoutMs;
        while (!/Link status:\s*up/.test(await command(`show port info ${port}`))) {
          if (Date.now() > end) throw new Error(`testpmd ${spec.label}: port ${port} link is not up after ${timeoutMs} ms`);
          await sleep(100);
        }
      },
    },
  };
}
