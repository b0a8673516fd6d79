/**
 * What a test guest is made of, without ava, so the tests (peers.ts) and the
 * benchmark (bench/guest.ts) build it the same way: finding executables, the
 * distribution kernel and its modules, a static busybox, module load order
 * from modules.dep, and newc cpio archives.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Absolute path of executable @name found on PATH (or /usr/sbin, /sbin), else undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, fsConstants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** A kernel that can boot a guest: its image and the modules directory of the same release. */
export interface GuestKernel {
  /** e.g. 6.1.0-56-amd64 */
  release: string;
  /** /boot/vmlinuz-<release> */
  image: string;
  /** /lib/modules/<release> */
  modulesDir: string;
}

/** The newest /boot/vmlinuz-* that is readable and has /lib/modules/<release>/modules.dep. */
export function findGuestKernel(): GuestKernel | undefined {
  let names: string[];
  try {
    names = readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-'));
  } catch {
    return undefined;
  }
  const found: GuestKernel[] = [];
  for (const n of names) {
    const release = n.slice('vmlinuz-'.length);
    const modulesDir = path.join('/lib/modules', release);
    const image = path.join('/boot', n);
    try {
      accessSync(image, fsConstants.R_OK);
    } catch {
      continue;
    }
    if (existsSync(path.join(modulesDir, 'modules.dep'))) found.push({ release, image, modulesDir });
  }
  found.sort((a, b) => a.release.localeCompare(b.release, 'en', { numeric: true }));
  return found.at(-1);
}

/** The busybox to put in a guest: a statically linked one (busybox-static), else undefined. */
export function findStaticBusybox(): string | undefined {
  for (const p of [findExecutable('busybox'), '/bin/busybox', '/usr/bin/busybox']) {
    if (p && existsSync(p) && isStaticElf(p)) return p;
  }
  return undefined;
}

/** True when @file is an ELF executable without a PT_INTERP (dynamic loader) header. */
function isStaticElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const eh = Buffer.alloc(64);
    readSync(fd, eh, 0, 64, 0);
    if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2) return false; // ELF64 only
    const phoff = Number(eh.readBigUInt64LE(0x20));
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/** One entry of a newc cpio archive. */
export interface CpioEntry {
  name: string;
  mode: number;
  data?: Buffer;
  rdev?: [number, number];
}

/** A newc ("070701") cpio archive of @entries, with its trailer; uid/gid 0, mtime 0 (reproducible). */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  let size = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    size += b.length;
  };
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }] as CpioEntry[]) {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const isDir = (e.mode & 0o170000) === 0o040000;
    const header =
      '070701' +
      [
        e.name === 'TRAILER!!!' ? 0 : ino++,
        e.mode,
        0,
        0,
        isDir ? 2 : 1,
        0,
        data.length,
        0,
        0,
        e.rdev?.[0] ?? 0,
        e.rdev?.[1] ?? 0,
        name.length,
        0,
      ]
        .map(hex)
        .join('');
    push(Buffer.from(header, 'ascii'));
    push(name);
    push(pad(size));
    push(data);
    push(pad(size));
  }
  return Buffer.concat(parts);
}

/** Load order of @wanted and their dependencies from @modulesDir/modules.dep (built-ins skipped). */
export function moduleLoadOrder(modulesDir: string, wanted: string[]): string[] {
  const norm = (n: string) => path.basename(n).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
  const deps = new Map<string, { file: string; deps: string[] }>();
  for (const line of readFileSync(path.join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    deps.set(norm(m[1]!), { file: m[1]!, deps: m[2]!.split(/\s+/).filter(Boolean).map(norm) });
  }
  let builtin = new Set<string>();
  try {
    builtin = new Set(readFileSync(path.join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(norm));
  } catch {
    /* none listed */
  }
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const n = norm(name);
    if (seen.has(n)) return;
    seen.add(n);
    const d = deps.get(n);
    if (!d) {
      if (builtin.has(n)) return;
      throw new Error(`kernel module ${n} is neither in ${modulesDir}/modules.dep nor built in`);
    }
    // modules.dep lists the deepest dependency last: load from the end.
    for (const x of [...d.deps].reverse()) visit(x);
    order.push(d.file);
  };
  for (const w of wanted) visit(w);
  return order;
}

/** The bytes of module @file (relative to @modulesDir), decompressed (busybox insmod reads plain .ko only). */
export function moduleBytes(modulesDir: string, file: string): Buffer {
  const full = path.join(modulesDir, file);
  if (file.endsWith('.ko')) return readFileSync(full);
  if (file.endsWith('.ko.gz')) return gunzipSync(readFileSync(full));
  const tool = file.endsWith('.ko.xz') ? ['xz', '-dc'] : file.endsWith('.ko.zst') ? ['zstd', '-dcq'] : undefined;
  if (!tool) throw new Error(`unknown module format: ${full}`);
  const exe = findExecutable(tool[0]!);
  if (exe) return execFileSync(exe, [tool[1]!, full], { maxBuffer: 256 << 20 });
  const busybox = findStaticBusybox();
  if (busybox && file.endsWith('.ko.xz')) return execFileSync(busybox, ['xzcat', full], { maxBuffer: 256 << 20 });
  throw new Error(`cannot decompress ${full}: ${tool[0]} not installed`);
}

