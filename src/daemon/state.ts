/**
 * The state file of `containet --state FILE`: the daemon's objects, each as its
 * kind saves it, in creation order, so a restarted daemon makes them again (see
 * docs/state.md). It is replaced whole on every change: written to FILE.tmp in
 * the same directory, synced, renamed over FILE, and the directory synced, so a
 * crash at any moment leaves either the old file or the new one. A file that
 * cannot be read as ours (not JSON, another shape, a newer version) is refused
 * and never written over.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

/** The version this daemon writes and the newest it reads. */
export const STATE_VERSION = 1;

/** One object in the file: its kind, its name, when it was made, and what
 *  its kind saved of it. */
export interface StateEntry {
  kind: string;
  name: string;
  /** ISO time of its creation */
  created: string;
  /** what its kind's save returned */
  record: Record<string, unknown>;
  /** "down": it was administratively down (src/daemon/linkstate.ts); absent: up */
  admin?: 'down';
  /** the lab that made it (docs/topology.md), if any */
  lab?: string;
}

/** What the file holds. */
export interface StateDoc {
  version: number;
  objects: StateEntry[];
}

/** A state file that cannot be used; the message names the file and why. */
export class StateError extends Error {}

/** Is @v a plain object (not null, not an array)? */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Read @text (the contents of @file) as a state document: version 1 to
 * STATE_VERSION, a list of objects each with a string kind and name, a created
 * time and a record. Throws StateError naming @file and what is wrong.
 */
export function parseState(file: string, text: string): StateDoc {
  const bad = (why: string) => new StateError(`state file ${file}: ${why}; refusing to start (the file is left as it is)`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw bad('not a containet state (a JSON object with "version" and "objects")');
  const v = doc.version;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad('"version" must be an integer >= 1');
  if (v > STATE_VERSION) throw bad(`version ${v} is newer than this containet reads (${STATE_VERSION})`);
  if (!Array.isArray(doc.objects)) throw bad('"objects" must be a list');
  const names = new Set<string>();
  doc.objects.forEach((o, i) => {
    if (!isObject(o) || typeof o.kind !== 'string' || typeof o.name !== 'string' || typeof o.created !== 'string' || !isObject(o.record))
      throw bad(`objects[${i}] must have a string "kind", "name" and "created" and an object "record"`);
    if (names.has(o.name)) throw bad(`objects[${i}]: the name "${o.name}" comes twice`);
    if (o.admin !== undefined && o.admin !== 'down') throw bad(`objects[${i}] ("${o.name}"): "admin" must be "down" when present`);
    if (o.lab !== undefined && typeof o.lab !== 'string') throw bad(`objects[${i}]: "lab" must be a string`);
    names.add(o.name);
  });
  return { version: v, objects: doc.objects as StateEntry[] };
}

/** The state file at a path: read once at start, then replaced on every change. */
export class StateFile {
  /** What was last written (or read): a change writes only when it differs. */
  private last: string | undefined;

  constructor(readonly file: string) {}

  /** The saved objects; none when the file does not exist. Throws StateError
   *  when it exists and cannot be used (or read). */
  load(): StateEntry[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StateError(`state file ${this.file}: ${(e as Error).message}; refusing to start`);
    }
    const doc = parseState(this.file, text);
    this.last = text;
    return doc.objects;
  }

  /** Replace the file with @objects, atomically, unless it already says that.
   *  Throws on I/O errors (the old file then stays). */
  write(objects: StateEntry[]): void {
    const text = `${JSON.stringify({ version: STATE_VERSION, objects } satisfies StateDoc, null, 1)}\n`;
    if (text === this.last) return;
    const tmp = `${this.file}.tmp`;
    // A FILE.tmp left by a crash mid-write is simply written over.
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    // The rename is durable once the directory is.
    const dir = openSync(path.dirname(this.file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.last = text;
  }
}
