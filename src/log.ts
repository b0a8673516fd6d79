/** Log lines on stderr: time, level, message. The daemon's only output channel. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger writing to stderr at or above a level. */
export class Logger {
  constructor(private readonly min: Level = 'info') {}

  /** Write one line if @level is at or above the logger's level. */
  log(level: Level, msg: string): void {
    if (ORDER[level] < ORDER[this.min]) return;
    process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${msg}\n`);
  }
  debug(msg: string): void { this.log('debug', msg); }
  info(msg: string): void { this.log('info', msg); }
  warn(msg: string): void { this.log('warn', msg); }
  error(msg: string): void { this.log('error', msg); }
}
