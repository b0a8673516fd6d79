/**
 * Cleanup scopes: whatever the bench makes (a namespace, a daemon, a temp dir)
 * registers its undo step on a Scope *before* it is made, and the scope undoes
 * every step in reverse order when it is closed: at the end of a path, when a
 * step fails, or on SIGINT/SIGTERM/SIGHUP, whichever comes first.
 */
import { cleaning, errorText, stopAll } from './proc.js';

/** One undo step. */
interface Step {
  what: string;
  fn: () => Promise<unknown> | unknown;
}

/** Scopes not closed yet; the signal handler closes them all. */
const open = new Set<Scope>();

let interrupted = false;

/** True once a signal asked the run to stop. */
export function isInterrupted(): boolean {
  return interrupted;
}

/** A set of undo steps run in reverse order of registration. */
export class Scope {
  private readonly steps: Step[] = [];
  private closing: Promise<string[]> | undefined;

  /** A new open scope; @name names it in error messages. */
  constructor(readonly name: string) {
    open.add(this);
  }

  /**
   * Register @fn (described by @what) to run when the scope closes. Throws when
   * the scope is closing or the run was interrupted, so nothing new is made then.
   */
  defer(what: string, fn: () => Promise<unknown> | unknown): void {
    if (interrupted) throw new Error('interrupted');
    if (this.closing) throw new Error(`scope ${this.name} is closed`);
    this.steps.push({ what, fn });
  }

  /**
   * Run every step, last registered first, each even when an earlier one
   * failed; resolves to the failures ("what: reason"). Closing twice runs the
   * steps once.
   */
  close(): Promise<string[]> {
    this.closing ??= this.runSteps();
    return this.closing;
  }

  /** Run and drop the steps in reverse order, collecting failures. */
  private async runSteps(): Promise<string[]> {
    const failures: string[] = [];
    for (let s = this.steps.pop(); s !== undefined; s = this.steps.pop()) {
      try {
        await cleaning.run(true, async () => s.fn());
      } catch (e) {
        failures.push(`${s.what}: ${errorText(e)}`);
      }
    }
    open.delete(this);
    return failures;
  }
}

/**
 * On SIGINT, SIGTERM or SIGHUP: stop the processes this run started, close
 * every open scope, report, and exit with 128 + the signal number. Further
 * signals while cleaning up are acknowledged and otherwise ignored.
 */
export function installSignalCleanup(): void {
  const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  for (const sig of Object.keys(numbers) as NodeJS.Signals[]) {
    process.on(sig, () => {
      if (interrupted) {
        process.stderr.write(`bench: ${sig} again: still cleaning up, please wait\n`);
        return;
      }
      interrupted = true;
      process.stderr.write(`\nbench: ${sig}: stopping and cleaning up\n`);
      void (async () => {
        await stopAll();
        for (const scope of [...open].reverse()) {
          for (const f of await scope.close()) process.stderr.write(`bench: cleanup: ${f}\n`);
        }
        await stopAll(); // anything a step in flight started meanwhile
        process.stderr.write('bench: cleaned up\n');
        process.exit(128 + numbers[sig]!);
      })();
    });
  }
}
