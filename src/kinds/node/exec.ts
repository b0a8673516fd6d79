/**
 * `containet exec NODE [--] CMD [ARGS...]`: run a command inside a running
 * node, in its mount, uts, ipc, net and pid namespaces, in its root's "/",
 * with the caller's stdio and the node's environment (PATH, HOME, HOSTNAME, its env),
 * exiting with the command's status. The node's init pid comes from `show`;
 * nsenter (util-linux) does the entering.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

import type { Command } from 'commander';

import type { CliClient } from '../kind.js';
import { statusOf } from './process.js';

/** PATH in a node (as containode sets it for the program). */
const NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Root's home in the node whose init is @initPid, as containode finds it
 *  for the program: in the node's own /etc/passwd, else /root. */
function rootHome(initPid: number): string {
  try {
    const line = readFileSync(`/proc/${initPid}/root/etc/passwd`, 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[2] === '0');
    if (line?.[5]) return line[5];
  } catch {
    // no passwd there
  }
  return '/root';
}

/** The environment of a command run in node @node (init @initPid, whose show
 *  entry gave @env): containode's for its program, then the node's own. */
export function execEnv(node: string, initPid: number, env: Record<string, string>): Record<string, string> {
  return { PATH: NODE_PATH, HOME: rootHome(initPid), TERM: process.env.TERM ?? 'xterm', HOSTNAME: node, container: 'containode', ...env };
}

/** nsenter's arguments to run @command in the namespaces and root of @initPid. */
export function nsenterArgs(initPid: number, command: string[]): string[] {
  return ['--target', String(initPid), '--mount', '--uts', '--ipc', '--net', '--pid', '--root', '--', ...command];
}

/** Declare `exec` on @program. */
export function execCommand(program: Command, client: CliClient): void {
  program
    .command('exec')
    .description("run a command inside a running node (its namespaces, root and environment), with this terminal's stdio; exits with its status")
    .argument('<node>', 'node name')
    .argument('<command...>', 'the command and its arguments (after -- when they have options)')
    .passThroughOptions()
    .action(async (name: string, words: string[], _opts: unknown, cmd: Command) => {
      // Options pass through, "--" with them: it ends ours, it is not the command.
      const command = words[0] === '--' ? words.slice(1) : words;
      if (!command.length) client.die('exec: no command to run (give it after the node\'s name)');
      const r = await client.request(cmd, { show: {} });
      const node = (r.objects as Record<string, unknown>[]).find((o) => o.name === name);
      if (!node) client.die(`no object named "${name}"`);
      if (node.kind !== 'node') client.die(`"${name}" is not a node (it is a ${String(node.kind)})`);
      if (node.state !== 'running' || typeof node.initPid !== 'number') client.die(`node ${name} is not running (${String(node.state)})`);
      const child = spawn('nsenter', nsenterArgs(node.initPid, command), { stdio: 'inherit', env: execEnv(name, node.initPid, node.env as Record<string, string>) });
      // The terminal's signals reach the command itself (same process group).
      for (const sig of ['SIGINT', 'SIGQUIT'] as const) process.on(sig, () => undefined);
      child.once('error', (e) => client.die(`cannot run nsenter: ${e.message}`));
      child.once('exit', (code, sig) => process.exit(statusOf(code, sig)));
    });
}
