/**
 * Commands the plugin runs (the ipam plugin, iproute2): started by us, fed
 * their stdin, killed by pid when they take too long, and what they printed.
 */
import { spawn } from 'node:child_process';

/** How a command ended and what it printed. */
export interface ChildResult {
  /** its exit code; 128 when a signal ended it; -1 when it could not start */
  status: number;
  stdout: string;
  /** what it printed on stderr (empty when its stderr is ours), or why it could not start */
  stderr: string;
  /** set when it could not be started */
  startError?: Error;
}

/** How to run a command. */
export interface ChildOptions {
  /** its whole environment (default: ours) */
  env?: Record<string, string | undefined>;
  stdin?: string;
  /** SIGKILL, by its pid, after this long */
  timeoutMs: number;
  /** let its stderr go to ours instead of collecting it */
  inheritStderr?: boolean;
}

/** Run @cmd @args to its end; never rejects. */
export function runChild(cmd: string, args: string[], o: ChildOptions): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, stdio: ['pipe', 'pipe', o.inheritStderr ? 'inherit' : 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, o.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ status: -1, stdout, stderr: `cannot run ${cmd}: ${e.message}`, startError: e });
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ status: code ?? (sig ? 128 : 1), stdout, stderr });
    });
    child.stdin!.on('error', () => undefined); // a command that exits without reading
    child.stdin!.end(o.stdin ?? '');
  });
}
