/**
 * The topology commands of the CLI (docs/topology.md): `containet apply FILE`
 * (the plan, then the change; --dry-run: the plan only), `containet destroy
 * FILE` (the lab's objects removed) and `containet export` (the running lab as
 * a file). The work is in the modules beside this one; this file wires it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Option, type Command } from 'commander';
import { stringify } from 'yaml';

import type { CliClient } from '../kinds/kind.js';
import { outcomeLines, runPlan, unknownVerbs } from './apply.js';
import { fromConlink } from './conlink.js';
import { ExportError, chooseLab, exportLab } from './export.js';
import { topologySchema } from './schema.js';
import { PlanError, computePlan, destroyPlan, type Plan } from './plan.js';
import type { ShowEntry } from './section.js';
import { TopologyError, parseTopology, type Topology } from './validate.js';

/** Options of apply and destroy. */
interface FileOptions {
  dryRun?: boolean;
  from?: 'conlink';
  name?: string;
}

/** A command that failed, having said why. */
class Failed extends Error {}

/** Print @lines on stderr and end the command, non-zero (through guard:
 *  the process ends once what it printed is out, none of it cut). */
function fail(lines: string[]): never {
  process.stderr.write(lines.map((l) => `containet: ${l}\n`).join(''));
  throw new Failed();
}

/** The action @fn, ending with exit status 1 when it fails. */
function guard<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      if (!(e instanceof Failed)) throw e;
      process.exitCode = 1;
    }
  };
}

/** Topology file @file (or, with --from conlink, conlink's network file) read
 *  and checked; every mistake printed and the process ended when it cannot be. */
export function loadTopology(file: string, o: FileOptions): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail([`cannot read ${file}: ${(e as Error).message}`]);
  }
  try {
    if (o.from !== 'conlink') return parseTopology(text, file);
    const lab = o.name ?? path.basename(file).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.:@-]/g, '-');
    const c = fromConlink(text, file, lab);
    for (const l of c.ignored) process.stderr.write(`${l}\n`);
    // Mistakes in what it became are said of the converted file.
    return parseTopology(stringify(c.doc), `${file} (as a topology file)`);
  } catch (e) {
    if (e instanceof TopologyError) fail(e.errors);
    throw e;
  }
}

/** Every object the daemon has (a show reply's). */
async function objects(client: CliClient, cmd: Command): Promise<ShowEntry[]> {
  return ((await client.request(cmd, { show: {} })).objects ?? []) as ShowEntry[];
}

/** Print plan @p; with @dryRun, say nothing was changed. */
function printPlan(p: Plan, what: string, dryRun: boolean): void {
  if (!p.steps.length) {
    process.stdout.write(`lab ${p.lab}: nothing to ${what}\n`);
    return;
  }
  process.stdout.write(`lab ${p.lab}: ${p.steps.length} step${p.steps.length === 1 ? '' : 's'}${dryRun ? ' (dry run: nothing is changed)' : ''}\n`);
  for (const s of p.steps) process.stdout.write(`${s.text}\n`);
}

/** Carry out plan @p (printed first) unless @dryRun; a failure is said and ends the process. */
async function carryOut(client: CliClient, cmd: Command, p: Plan, what: string, dryRun: boolean): Promise<void> {
  printPlan(p, what, dryRun);
  if (!p.steps.length) return;
  const send = (req: Record<string, unknown>) => client.request(cmd, req, { orThrow: true, timeoutMs: 60000 });
  const unknown = await unknownVerbs(p, send);
  if (unknown.length) fail([...unknown, 'nothing was changed']);
  if (dryRun) return;
  const o = await runPlan(p, send);
  if (!o.ok) fail(outcomeLines(o));
  process.stdout.write(`lab ${p.lab}: done\n`);
}

/** A command of @program named @name that reads a topology file (FILE,
 *  --dry-run, --from, --name), described by @description. */
function fileCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .argument('<file>', 'a topology file (YAML)')
    .option('--dry-run', 'print the plan and change nothing')
    .addOption(new Option('--from <format>', "the file is another tool's: conlink (its network file; what does not map is named line by line)").choices(['conlink']))
    .option('--name <lab>', "with --from: the lab's name (default: the file's name)");
}

/** Declare apply, destroy and export on @program. */
export function topologyCommands(program: Command, client: CliClient): void {
  fileCommand(program, 'apply', 'make the running lab what topology FILE says: prints the plan (+ made, ~ changed in place, - removed), then changes only that, in dependency order; a failed step is rolled back (docs/topology.md)').action(
    guard(async (file: string, o: FileOptions, cmd: Command) => {
      const t = loadTopology(file, o);
      let p: Plan;
      try {
        p = computePlan(t, await objects(client, cmd));
      } catch (e) {
        if (e instanceof PlanError) fail(e.errors);
        throw e;
      }
      await carryOut(client, cmd, p, 'change', o.dryRun === true);
    }),
  );

  fileCommand(program, 'destroy', 'remove every object of the lab topology FILE names (only those: objects made by its apply), dependents first; a failed step is rolled back').action(
    guard(async (file: string, o: FileOptions, cmd: Command) => {
      const t = loadTopology(file, o);
      await carryOut(client, cmd, destroyPlan(t.name, await objects(client, cmd)), 'remove', o.dryRun === true);
    }),
  );

  program
    .command('export')
    .description('print a running lab as a topology file, which apply turns back into the same lab')
    .option('--lab <name>', 'the lab (default: the only one running)')
    .option('--schema', 'print the JSON Schema of topology files instead (for editors; no daemon needed)')
    .action(guard(async (o: { lab?: string; schema?: boolean }, cmd: Command) => {
      if (o.schema) {
        process.stdout.write(`${JSON.stringify(topologySchema(), null, 2)}\n`);
        return;
      }
      const all = await objects(client, cmd);
      try {
        process.stdout.write(exportLab(all, chooseLab(all, o.lab), (l) => process.stderr.write(`containet: ${l}\n`)));
      } catch (e) {
        if (e instanceof ExportError) fail([e.message]);
        throw e;
      }
    }));
}
