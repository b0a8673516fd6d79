/**
 * containet-cni's entry: read the network config from stdin and the CNI_*
 * variables, run the command, print its result (or the spec's error JSON) on
 * stdout; a line for people on stderr when it fails. Resolves to the exit status.
 */
import { cmdAdd, cmdCheck, cmdDel, cmdVersion, type CommandContext } from './commands.js';
import { parseConfig, parseEnv, parseJsonObject } from './config.js';
import { CniCode, CniError, errorJson } from './errors.js';

/** All of stdin as text. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The cniVersion @text asks for, if it is a JSON object with one (for VERSION and errors). */
function askedVersion(text: string): string | undefined {
  try {
    const v = (JSON.parse(text) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && v ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Run one command as the runtime asked; the exit status (0 done, 1 failed). */
export async function main(
  processEnv: Record<string, string | undefined> = process.env,
  stdin?: string,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let text = '';
  let command = processEnv.CNI_COMMAND ?? '?';
  try {
    try {
      text = stdin ?? (await readStdin());
    } catch (e) {
      throw new CniError(CniCode.ioFailure, 'cannot read the network config from stdin', (e as Error).message);
    }
    const env = parseEnv(processEnv);
    command = env.command;
    if (env.command === 'VERSION') {
      out(JSON.stringify(cmdVersion(askedVersion(text))) + '\n');
      return 0;
    }
    const conf = parseConfig(parseJsonObject(text, 'the network config on stdin'));
    const ctx: CommandContext = { env, conf, stdin: text, processEnv, log: (l) => err(`containet-cni: ${l}\n`) };
    const run = { ADD: cmdAdd, DEL: cmdDel, CHECK: cmdCheck }[env.command];
    const result = await run(ctx);
    if (result) out(JSON.stringify(result) + '\n');
    return 0;
  } catch (e) {
    const j = errorJson(e, askedVersion(text) ?? '1.0.0');
    out(JSON.stringify(j) + '\n');
    err(`containet-cni: ${command}: ${String(j.msg)}${j.details ? `: ${String(j.details)}` : ''}\n`);
    return 1;
  }
}
