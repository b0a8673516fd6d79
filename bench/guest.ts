/**
 * A tiny QEMU guest for the TCP-from-a-VM path: an initramfs of busybox-static
 * and the virtio modules of the installed Debian kernel (linux-image-amd64),
 * booted with `qemu-system-x86_64 -accel tcg` on a vhost-user netdev. The
 * parts are the tests' (test/helpers/guestimage.ts, which needs no test
 * runner); the initramfs is built in the path's private directory and goes
 * with it (nothing is cached elsewhere).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import {
  cpioNewc,
  findExecutable,
  findGuestKernel,
  findStaticBusybox,
  moduleBytes,
  moduleLoadOrder,
  type CpioEntry,
} from '../test/helpers/guestimage.js';
import { sleep, start, type Proc } from './proc.js';
import type { Scope } from './scope.js';

/** Why the guest cannot run here, or null when it can. */
export function guestMissing(): string | null {
  if (!findExecutable('qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)';
  if (!findGuestKernel()) return 'no /boot/vmlinuz-* with /lib/modules (apt-get install linux-image-amd64)';
  if (!findStaticBusybox()) return 'no static busybox (apt-get install busybox-static)';
  if (!findExecutable('python3')) return 'python3 is not installed (the receiver)';
  return null;
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
