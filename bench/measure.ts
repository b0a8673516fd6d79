/**
 * TCP throughput (iperf3) and ping latency between the two stations of a built
 * path. Every tool runs inside the stations' namespaces and talks only to the
 * other station's address.
 */
import type { Endpoints } from './paths.js';
import { nsExec } from './netns.js';
import { sleep, start, type Proc } from './proc.js';
import type { Scope } from './scope.js';

/** TCP port of the iperf3 server in B. */
const IPERF_PORT = 5201;

/**
 * Start `iperf3 -s` in B, bound to B's address, and wait until it listens;
 * @scope stops it by its pid.
 */
export async function startIperfServer(scope: Scope, ep: Endpoints): Promise<void> {
  await startIperfServerAt(scope, ep.b.ns, ep.b.ip);
}

/** Start `iperf3 -s` in namespace @ns bound to @ip and wait until it listens; @scope stops it by its pid. */
export async function startIperfServerAt(scope: Scope, ns: string, ip: string): Promise<void> {
  let server: Proc | undefined;
  scope.defer('stop the iperf3 server', () => server?.stop());
  server = start('ip', ['netns', 'exec', ns, 'iperf3', '-s', '-B', ip, '-p', String(IPERF_PORT), '--forceflush']);
  const deadline = Date.now() + 10000;
  while (!/Server listening/.test(server.output())) {
    if (server.hasExited()) throw new Error(`iperf3 -s exited: ${server.output().trim()}`);
    if (Date.now() > deadline) throw new Error(`iperf3 -s does not listen: ${server.output().trim()}`);
    await sleep(50);
  }
}

/** Shape of the part of `iperf3 -J` output read here. */
interface IperfJson {
  error?: string;
  end?: { sum_received?: { bits_per_second?: number } };
}

/**
 * One `iperf3 -c B -t @seconds -O @omit -P @streams -J` from A (with @reverse,
 * `-R`: B sends, A receives); returns what the receiver got, in Gbit/s
 * (end.sum_received.bits_per_second, omitted seconds excluded).
 */
export async function tcpGbps(ep: Endpoints, streams: number, seconds: number, omit: number, reverse = false): Promise<number> {
  const args = ['iperf3', '-c', ep.b.ip, '-p', String(IPERF_PORT), '-t', String(seconds), '-O', String(omit), '-P', String(streams), '-J', '--connect-timeout', '3000', ...(reverse ? ['-R'] : [])];
  const r = await nsExec(ep.a.ns, args, (seconds + omit + 20) * 1000);
  let j: IperfJson;
  try {
    j = JSON.parse(r.stdout) as IperfJson;
  } catch {
    throw new Error(`iperf3 -P ${streams}: no JSON (${r.signal ?? `exit ${r.code}`}: ${r.stderr.trim()})`);
  }
  if (j.error) throw new Error(`iperf3 -P ${streams}: ${j.error}`);
  const bps = j.end?.sum_received?.bits_per_second;
  if (typeof bps !== 'number') throw new Error(`iperf3 -P ${streams}: no end.sum_received.bits_per_second`);
  return bps / 1e9;
}

/** Round-trip times of one ping run, and how many echoes went unanswered. */
export interface PingRun {
  rttsMs: number[];
  lost: number;
}

/**
 * `ping -c @count -i @intervalS` from A to B; returns every reply's `time=`
 * in ms. Fails when fewer than half of the echoes are answered.
 */
export async function pingRtts(ep: Endpoints, count: number, intervalS: number): Promise<PingRun> {
  const r = await nsExec(ep.a.ns, ['ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '1', ep.b.ip], (count * intervalS + 20) * 1000);
  const rttsMs = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (rttsMs.length < count / 2) throw new Error(`ping: ${rttsMs.length} of ${count} answered (${r.stderr.trim() || `exit ${r.code}`})`);
  return { rttsMs, lost: count - rttsMs.length };
}
