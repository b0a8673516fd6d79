/**
 * A tiny QEMU guest for the TCP-from-a-VM path: an initramfs of busybox-static
 * and the virtio modules of the installed Debian kernel (linux-image-amd64),
 * booted with `qemu-system-x86_64 -accel tcg` on a vhost-user netdev. The
 * same recipe as the tests' helpers (test/helpers/peers.ts), kept here so the
 * bench does not depend on the test runner; the initramfs is built in the
 * path's private directory and goes with it (nothing is cached elsewhere).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import { findExecutable } from './dpdk.js';
import { sleep, start, type Proc } from './proc.js';
import type { Scope } from './scope.js';

/** A kernel that can boot the guest: its image and modules of the same release. */
interface GuestKernel {
  image: string;
  modulesDir: string;
}

/** The newest readable /boot/vmlinuz-* with /lib/modules/<release>/modules.dep, or null. */
function findGuestKernel(): GuestKernel | null {
  let names: string[];
  try {
    names = readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-'));
  } catch {
    return null;
  }
  const found = names
    .map((n) => ({ release: n.slice('vmlinuz-'.length), image: path.join('/boot', n) }))
    .filter((k) => existsSync(path.join('/lib/modules', k.release, 'modules.dep')))
    .sort((a, b) => a.release.localeCompare(b.release, 'en', { numeric: true }));
  const k = found.at(-1);
  return k ? { image: k.image, modulesDir: path.join('/lib/modules', k.release) } : null;
}

/** True when @file is a 64-bit ELF without a PT_INTERP header (statically linked). */
function isStaticElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const eh = Buffer.alloc(64);
    readSync(fd, eh, 0, 64, 0);
    if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2) return false;
    const phoff = Number(eh.readBigUInt64LE(0x20));
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/** A statically linked busybox (busybox-static), or null. */
function findStaticBusybox(): string | null {
  for (const p of [findExecutable('busybox'), '/bin/busybox', '/usr/bin/busybox'])
    if (p && existsSync(p) && isStaticElf(p)) return p;
  return null;
}

/** Why the guest cannot run here, or null when it can. */
export function guestMissing(): string | null {
  if (!findExecutable('qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)';
  if (!findGuestKernel()) return 'no /boot/vmlinuz-* with /lib/modules (apt-get install linux-image-amd64)';
  if (!findStaticBusybox()) return 'no static busybox (apt-get install busybox-static)';
  if (!findExecutable('python3')) return 'python3 is not installed (the receiver)';
  return null;
}

/** One entry of a newc cpio archive. */
interface CpioEntry {
  name: string;
  mode: number;
  data?: Buffer;
  rdev?: [number, number];
}

/** A newc cpio archive of @entries with its trailer (uid/gid 0, mtime 0). */
function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  let ino = 1;
  /** Append @b. */
  const push = (b: Buffer) => {
    parts.push(b);
    size += b.length;
  };
  /** Zero bytes up to the next multiple of 4. */
  const pad = () => push(Buffer.alloc((4 - (size % 4)) % 4));
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }] as CpioEntry[]) {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const isDir = (e.mode & 0o170000) === 0o040000;
    const fields = [e.name === 'TRAILER!!!' ? 0 : ino++, e.mode, 0, 0, isDir ? 2 : 1, 0, data.length, 0, 0, e.rdev?.[0] ?? 0, e.rdev?.[1] ?? 0, name.length, 0];
    push(Buffer.from(`070701${fields.map((n) => n.toString(16).padStart(8, '0')).join('')}`, 'ascii'));
    push(name);
    pad();
    push(data);
    pad();
  }
  return Buffer.concat(parts);
}

/** Load order of @wanted and their dependencies from modules.dep (built-ins skipped). */
function moduleLoadOrder(modulesDir: string, wanted: string[]): string[] {
  /** A module's name from its file name. */
  const norm = (n: string) => path.basename(n).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
  const deps = new Map<string, { file: string; deps: string[] }>();
  for (const line of readFileSync(path.join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) deps.set(norm(m[1]!), { file: m[1]!, deps: m[2]!.split(/\s+/).filter(Boolean).map(norm) });
  }
  let builtin = new Set<string>();
  try {
    builtin = new Set(readFileSync(path.join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(norm));
  } catch {
    // none listed
  }
  const order: string[] = [];
  const seen = new Set<string>();
  /** Add @name after its dependencies. */
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const d = deps.get(name);
    if (!d) {
      if (builtin.has(name)) return;
      throw new Error(`kernel module ${name} is neither in modules.dep nor built in`);
    }
    for (const x of [...d.deps].reverse()) visit(x);
    order.push(d.file);
  };
  for (const w of wanted) visit(w);
  return order;
}

/** The bytes of module @file, decompressed (busybox insmod reads plain .ko only). */
function moduleBytes(modulesDir: string, file: string): Buffer {
  const full = path.join(modulesDir, file);
  if (file.endsWith('.ko')) return readFileSync(full);
  if (file.endsWith('.ko.gz')) return gunzipSync(readFileSync(full));
  const tool = file.endsWith('.ko.xz') ? 'xz' : file.endsWith('.ko.zst') ? 'zstd' : null;
  const exe = tool ? findExecutable(tool) : null;
  if (!exe) throw new Error(`cannot decompress ${full}`);
  return execFileSync(exe, ['-dc', full], { maxBuffer: 256 << 20 });
}

/**
 * Write @dir/initramfs.cpio.gz: busybox, the virtio_net and virtio_pci modules
 * with their dependencies (insmod'ed in order), and an /init that gives eth0
 * @ip, waits for its carrier, prints `@@READY@@`, runs @script, prints
 * `@@EXIT@@ <status>` and powers off. Returns its path.
 */
export function buildInitramfs(dir: string, ip: string, script: string): string {
  const kernel = findGuestKernel();
  const busybox = findStaticBusybox();
  if (!kernel || !busybox) throw new Error(guestMissing() ?? 'no guest');
  const order = moduleLoadOrder(kernel.modulesDir, ['virtio_net', 'virtio_pci']);
  const mods = order.map((f) => path.basename(f).replace(/\.(xz|zst|gz)$/, ''));
  const init = [
    '#!/bin/sh',
    '/bin/busybox --install -s /bin',
    'export PATH=/bin',
    'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev; mount -t tmpfs tmpfs /tmp',
    'fail() { echo "@@ERROR@@ $*"; poweroff -f; }',
    `for m in ${mods.join(' ')}; do insmod /lib/modules/$m || fail insmod $m; done`,
    'n=0; while [ ! -d /sys/class/net/eth0 ]; do n=$((n+1)); [ $n -gt 400 ] && fail no eth0; sleep 0.05; done',
    'ip link set lo up',
    `ip addr add ${ip} dev eth0 || fail ip`,
    'ip link set eth0 up || fail link up',
    'n=0; while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ]; do n=$((n+1)); [ $n -gt 400 ] && fail no carrier; sleep 0.05; done',
    'echo "@@READY@@ $(cat /sys/class/net/eth0/address)"',
    'cd /tmp; sh /script.sh; echo "@@EXIT@@ $?"',
    'poweroff -f',
    '',
  ].join('\n');
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'dev', 'etc', 'lib', 'lib/modules', 'proc', 'sys', 'tmp', 'run']) entries.push({ name: d, mode: 0o040755 });
  entries.push({ name: 'dev/console', mode: 0o020600, rdev: [5, 1] });
  entries.push({ name: 'dev/null', mode: 0o020666, rdev: [1, 3] });
  entries.push({ name: 'bin/busybox', mode: 0o100755, data: readFileSync(busybox) });
  entries.push({ name: 'bin/sh', mode: 0o120777, data: Buffer.from('busybox') }); // /init's interpreter
  for (const f of order)
    entries.push({ name: `lib/modules/${path.basename(f).replace(/\.(xz|zst|gz)$/, '')}`, mode: 0o100644, data: moduleBytes(kernel.modulesDir, f) });
  entries.push({ name: 'init', mode: 0o100755, data: Buffer.from(init) });
  entries.push({ name: 'script.sh', mode: 0o100755, data: Buffer.from(`${script}\n`) });
  const out = path.join(dir, 'initramfs.cpio.gz');
  writeFileSync(out, gzipSync(cpioNewc(entries), { level: 1 }));
  return out;
}

/** A running guest. */
export interface Guest {
  proc: Proc;
  /** The rest of the first console line holding @marker, once it shows; throws on @@ERROR@@, exit or timeout. */
  waitFor(marker: string, timeoutMs: number): Promise<string>;
  /** The guest's `@@ERROR@@` line, if it printed one. */
  failure(): string | null;
}

/**
 * Boot @initrd in `qemu-system-x86_64 -accel tcg` (1 vCPU, 256 MB in a shared
 * memfd) with a virtio-net-pci device (offloads at QEMU's defaults: checksum,
 * TSO, mergeable buffers) on the vhost-user socket @socket, QEMU the client:
 *
 *   qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nodefaults -no-user-config -display none
 *     -serial stdio -no-reboot -object memory-backend-memfd,id=mem,size=256M,share=on
 *     -numa node,memdev=mem -chardev socket,id=chr0,path=SOCK -netdev vhost-user,id=net0,chardev=chr0
 *     -device virtio-net-pci,netdev=net0,mac=MAC,romfile=,vectors=0
 *     -kernel /boot/vmlinuz-R -initrd INITRD -append 'console=ttyS0 quiet panic=-1'
 *
 * (`vectors=0`: QEMU 7.2 TCG crashes in MSI-X setup without it.) @scope stops
 * it by pid.
 */
export function startGuest(scope: Scope, socket: string, initrd: string, mac: string): Guest {
  const qemu = findExecutable('qemu-system-x86_64');
  const kernel = findGuestKernel();
  if (!qemu || !kernel) throw new Error(guestMissing() ?? 'no guest');
  const argv = [
    qemu,
    '-accel', 'tcg', '-m', '256', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none',
    '-serial', 'stdio', '-no-reboot',
    '-object', 'memory-backend-memfd,id=mem,size=256M,share=on', '-numa', 'node,memdev=mem',
    '-chardev', `socket,id=chr0,path=${socket}`,
    '-netdev', 'vhost-user,id=net0,chardev=chr0',
    '-device', `virtio-net-pci,netdev=net0,mac=${mac},romfile=,vectors=0`,
    '-kernel', kernel.image, '-initrd', initrd,
    '-append', 'console=ttyS0 quiet panic=-1',
  ];
  const setpriv = findExecutable('setpriv');
  const full = setpriv ? [setpriv, '--pdeathsig', 'KILL', ...argv] : argv;
  let proc: Proc | undefined;
  scope.defer('stop the QEMU guest', () => proc?.stop('SIGTERM', 3000));
  proc = start(full[0]!, full.slice(1));
  const p = proc;
  /** The rest of the line after @marker in the console output, once the line is complete. */
  const lineWith = (marker: string): string | undefined => {
    const out = p.output();
    const i = out.indexOf(marker);
    const nl = i < 0 ? -1 : out.indexOf('\n', i);
    return nl < 0 ? undefined : out.slice(i + marker.length, nl).replace(/\r/g, '').trim();
  };
  return {
    proc: p,
    failure: () => lineWith('@@ERROR@@') ?? null,
    waitFor: async (marker, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = lineWith(marker);
        if (line !== undefined) return line;
        const err = lineWith('@@ERROR@@');
        if (err !== undefined) throw new Error(`guest failed: ${err}`);
        if (p.hasExited()) throw new Error(`QEMU exited before '${marker}': ${p.output().trim().split('\n').slice(-3).join(' / ')}`);
        if (Date.now() > deadline) throw new Error(`no '${marker}' from the guest after ${timeoutMs} ms: ${p.output().trim().split('\n').slice(-3).join(' / ')}`);
        await sleep(50);
      }
    },
  };
}
