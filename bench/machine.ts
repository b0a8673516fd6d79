/** What the run ran on: enough to tell two result files' machines and builds apart. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

import { packageRoot } from '../src/native.js';
import { exec } from './proc.js';

/** Machine, kernel, tools and source revision of a run. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memGiB: number;
  kernel: string;
  kernelVersion: string;
  hostname: string;
  node: string;
  /** `git describe --always --dirty` of the repository (the containet being measured). */
  git: string | null;
  /** First line of each tool's version output. */
  tools: Record<string, string | null>;
}

/** First line of `@cmd @args` output, or null when it cannot run. */
async function firstLine(cmd: string, args: string[]): Promise<string | null> {
  const r = await exec(cmd, args, { timeoutMs: 10000 });
  if (r.code === null) return null;
  const line = (r.stdout || r.stderr).trim().split('\n')[0];
  return line ? line.trim() : null;
}

/** The CPU model name from /proc/cpuinfo. */
function cpuModel(): string {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Gather the machine info of this run. */
export async function machineInfo(): Promise<MachineInfo> {
  return {
    nproc: os.availableParallelism(),
    cpuModel: cpuModel(),
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    kernelVersion: os.version(),
    hostname: os.hostname(),
    node: process.version,
    git: await firstLine('git', ['-C', packageRoot, 'describe', '--always', '--dirty']),
    tools: {
      iperf3: await firstLine('iperf3', ['--version']),
      trafgen: await firstLine('trafgen', ['--version']),
      'ovs-vswitchd': await firstLine('ovs-vswitchd', ['--version']),
      ping: await firstLine('ping', ['-V']),
      'ovs-vswitchd-dpdk': await firstLine('/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk', ['--version']),
      'dpdk-testpmd': await firstLine('dpkg-query', ['-W', '-f', 'dpdk-dev ${Version}', 'dpdk-dev']),
      'qemu-system-x86_64': await firstLine('qemu-system-x86_64', ['--version']),
    },
  };
}
