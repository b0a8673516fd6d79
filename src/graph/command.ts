/**
 * `containet graph`: the lab as a picture (`--svg FILE`) or as a live page
 * (`--serve [ADDR:]PORT`) with per-port rates and captures to download. A
 * client of the daemon like any other command. See docs/graph.md.
 */
import { writeFileSync } from 'node:fs';

import { Option, type Command } from 'commander';

import { listenAddress } from '../cli/args.js';
import type { CliClient } from '../kinds/kind.js';
import { fetchLab, type DaemonRequest } from './lab.js';
import { layout } from './layout.js';
import { counterLine } from './rates.js';
import { loopbackName, startGraphServer } from './server.js';
import { renderSvg } from './svg.js';

/** Declare `containet graph` on @program. */
export function graphCommand(program: Command, client: CliClient): void {
  program
    .command('graph')
    .description('draw the lab: lans, ports (under their nodes), links with their settings, tunnels, OVS lans; as SVG, or served as a live page with per-port rates and captures (docs/graph.md)')
    .option('--svg <file>', 'write the picture as SVG to FILE (- for stdout), with each port\'s counters')
    .addOption(new Option('--serve <[addr:]port>', 'serve the live page at ADDR:PORT (ADDR default 127.0.0.1; PORT 0: a free one); prints its URL').argParser(listenAddress))
    .option('--public', 'with --serve: allow an address that is not loopback (needs the daemon\'s --authtoken)')
    .action(async (o: { svg?: string; serve?: { host: string; port: number }; public?: boolean }, cmd: Command) => {
      if (o.svg === undefined && o.serve === undefined) client.die('graph: say what to make: --svg FILE or --serve [ADDR:]PORT');
      const token = (cmd.optsWithGlobals() as { authtoken?: string }).authtoken ?? process.env.CONTAINET_AUTHTOKEN;
      const daemon: DaemonRequest = (req, ro = {}) => client.request(cmd, req, { ...ro, orThrow: true });
      if (o.serve && !loopbackName(o.serve.host)) {
        if (!o.public) client.die(`graph: --serve ${o.serve.host} is not a loopback address: the page shows and captures the lab's traffic; pass --public to serve it there`);
        if (token === undefined) client.die('graph: --public needs the daemon\'s authtoken (--authtoken or $CONTAINET_AUTHTOKEN): every HTTP request must carry it');
      }
      if (o.svg !== undefined) {
        const { lab } = await fetchLab(daemon).catch((e: Error) => client.die(e.message));
        const svg = renderSvg(layout(lab), (p) => counterLine(lab.ports.find((q) => q.name === p)?.counters));
        if (o.svg === '-') process.stdout.write(svg);
        else {
          try {
            writeFileSync(o.svg, svg);
          } catch (e) {
            client.die(`graph: cannot write ${o.svg}: ${(e as Error).message}`);
          }
        }
      }
      if (!o.serve) return;
      const server = await startGraphServer({ host: o.serve.host, port: o.serve.port, token, anyHost: o.public === true, daemon }).catch((e: Error) =>
        client.die(`graph: cannot serve at ${o.serve!.host}:${o.serve!.port}: ${e.message}`),
      );
      process.stdout.write(`${server.url}\n`);
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        setTimeout(() => process.exit(1), 5000).unref();
        void server.close().finally(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
