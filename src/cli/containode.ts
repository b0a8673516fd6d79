/**
 * `containode`: run a program in a new container whose eth0 is a port of a
 * containet switch. Options are the original containode's, plus a few extensions
 * (--lan, --ifname, --mtu, -e). This file only wires the CLI; the work is in
 * ../containode/.
 */
import { Command, InvalidArgumentError } from 'commander';

import { checkIdentity, parseIpv4, randomIdentity, type Ipv4 } from '../containode/identity.js';
import { EXIT_SETUP, runContainer } from '../containode/launcher.js';

/** Wrap a parser so commander reports its message. */
function parsed<T>(fn: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return fn(v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/** Build the command. */
export function buildProgram(): Command {
  return new Command('containode')
    .description('run PROGRAM in new namespaces, with eth0 on a containet switch')
    .usage('[options] [--] PROGRAM [ARGS...]')
    .option('-s, --socket <path>', 'switch socket to attach eth0 to (no interface without it)')
    .option('-4, --ipv4 <addr[/len]>', 'IPv4 address of eth0 (prefix from the address class if omitted)', parsed(parseIpv4))
    .option('-r, --root <dir>', 'root filesystem (mounted as an overlay, then pivoted into)')
    .option('-t, --top <dir>', "directory for the root's changes (default: ROOT.IDENTITY)")
    .option('-i, --identity <id>', 'unique identity, also the hostname (default: 11 random base62 digits)', parsed(checkIdentity))
    .option('-N, --keep-net', "keep the host's network namespace")
    .option('-I, --keep-ipc', "keep the host's IPC namespace")
    .option('-l, --lan <name>', "lan to join (default: the daemon's default lan)")
    .option('--ifname <name>', 'name of the interface in the container', 'eth0')
    .option('--mtu <bytes>', 'MTU of the interface', parsed((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 68 || n > 65521) throw new Error('must be 68 to 65521');
      return n;
    }), 64000)
    .option('-e, --env <KEY=VALUE>', 'set an environment variable for PROGRAM (repeatable)', (v: string, prev: string[]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) throw new InvalidArgumentError('must be KEY=VALUE');
      return [...prev, v];
    }, [] as string[])
    .option('--authtoken <token>', 'token for the switch (default: $CONTAINET_AUTHTOKEN)')
    .argument('<program...>', 'program and its arguments')
    .passThroughOptions()
    .action(async (command: string[], o: {
      socket?: string; ipv4?: Ipv4; root?: string; top?: string; identity?: string; keepNet?: boolean;
      keepIpc?: boolean; lan?: string; ifname: string; mtu: number; env: string[]; authtoken?: string;
    }) => {
      const warn = (msg: string) => process.stderr.write(`containode: ${msg}\n`);
      let status: number;
      try {
        status = await runContainer(
          {
            socket: o.socket,
            ipv4: o.ipv4,
            root: o.root,
            top: o.top,
            identity: o.identity ?? randomIdentity(),
            keepNet: o.keepNet === true,
            keepIpc: o.keepIpc === true,
            lan: o.lan,
            ifname: o.ifname,
            mtu: o.mtu,
            env: o.env,
            authtoken: o.authtoken ?? process.env.CONTAINET_AUTHTOKEN,
            command,
          },
          warn,
        );
      } catch (e) {
        warn((e as Error).message);
        status = EXIT_SETUP;
      }
      process.exit(status);
    });
}

/** Entry point of bin/containode. */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
