/**
 * End to end, as root, with real podman (Debian's, CNI network backend) and
 * the reference host-local IPAM plugin: a network whose conflist names
 * containet-cni, two podman containers on a busybox-static root filesystem the
 * test builds (no image pull), and a containode container, all on one lan of
 * a test daemon: each pings the others through containet; `podman rm -f` and
 * `podman stop` run the plugin's DEL and the container's port goes. Podman's
 * storage, run and temporary directories and its containers.conf are the
 * test's own (docs/cni.md has the same set-up); only libcni's result cache in
 * /var/lib/cni is the host's (DEL empties it; a directory the test made is
 * removed again).
 */
import test, { type ExecutionContext, type TestFn } from 'ava';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmdirSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { hostLocalMissing, pluginScript, REFERENCE_PLUGINS, uniqueSubnet } from './helpers/cni.js';
import { portNames, shell, shellContainer } from './helpers/containers.js';
import { collectOutput, rootTest, startDaemon, stopChild, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import { findExecutable, findStaticBusybox } from './helpers/guestimage.js';

/** Why podman cannot be tested here, or undefined. */
function podmanMissing(): string | undefined {
  if (!findExecutable('podman')) return 'no podman (apt-get install podman containernetworking-plugins)';
  if (!findExecutable('nsenter') || !findExecutable('unshare')) return 'no nsenter/unshare (util-linux)';
  return hostLocalMissing() ?? (findStaticBusybox() ? undefined : 'no static busybox (busybox-static)');
}

/** A root test that needs podman: skipped, saying why, without it. */
function podmanTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  const missing = podmanMissing();
  if (missing) (test as TestFn).skip(`${title} [skipped: ${missing}]`, fn);
  else rootTest(title, fn);
}

/** What a podman run gave. */
interface PodmanResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A podman of the test's own: its config, network, root filesystem. */
interface TestPodman {
  /** Run `podman ARGS` with the test's storage and config, in the mount namespace without the cgroup v2 mount. */
  podman(...args: string[]): Promise<PodmanResult>;
  /** Like podman(), but throws with its output when it fails; its stdout, trimmed. */
  ok(...args: string[]): Promise<string>;
  /** The CNI network's name. */
  network: string;
  /** The busybox root filesystem. */
  rootfs: string;
  /** host-local's data directory (a file per address it holds). */
  ipamDir: string;
}

/** A directory holding busybox-static and the links a container here uses. */
function busyboxRootfs(dir: string): string {
  const root = path.join(dir, 'rootfs');
  mkdirSync(path.join(root, 'bin'), { recursive: true });
  copyFileSync(findStaticBusybox()!, path.join(root, 'bin', 'busybox'));
  for (const app of ['sh', 'ip', 'ping', 'sleep', 'cat']) symlinkSync('busybox', path.join(root, 'bin', app));
  return root;
}

/**
 * Podman set up as docs/cni.md says, for daemon @d and subnet @net (three
 * octets): a containet-cni executable (a wrapper running this checkout's
 * plugin with this node), a conflist with host-local handing out .2 to .99,
 * a containers.conf, and a process holding a mount namespace where the cgroup
 * v2 mount of this hybrid-cgroup host is hidden, in which every podman runs.
 * At teardown every container is removed, then the holder stopped.
 */
async function testPodman(t: ExecutionContext, d: TestDaemon, net: string): Promise<TestPodman> {
  const dir = tempDir(t);
  const rootfs = busyboxRootfs(dir);
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'containet-cni'), `#!/bin/sh\nexec '${process.execPath}' '${pluginScript}' "$@"\n`);
  chmodSync(path.join(bin, 'containet-cni'), 0o755);
  const network = uniqueName('ctnpod');
  const ipamDir = path.join(dir, 'ipam');
  const netd = path.join(dir, 'net.d');
  mkdirSync(netd);
  const conflist = {
    cniVersion: '1.0.0',
    name: network,
    plugins: [
      {
        type: 'containet-cni',
        socket: d.sock,
        ipam: { type: 'host-local', ranges: [[{ subnet: `${net}.0/24`, rangeStart: `${net}.2`, rangeEnd: `${net}.99` }]], dataDir: ipamDir },
      },
    ],
  };
  writeFileSync(path.join(netd, `${network}.conflist`), JSON.stringify(conflist, null, 2));
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(
    conf,
    [
      '[containers]',
      'default_ulimits = []',
      'cgroups = "disabled"',
      '[network]',
      `network_config_dir = "${netd}"`,
      `cni_plugin_dirs = ["${bin}", "${REFERENCE_PLUGINS}"]`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'network_backend = "cni"',
      'events_logger = "none"',
      `tmp_dir = "${path.join(dir, 'tmp')}"`,
      '',
    ].join('\n'),
  );
  // libcni keeps its results in /var/lib/cni whatever the config says: if
  // this test makes that directory, it removes it again (when empty).
  const cacheMade = !existsSync('/var/lib/cni');
  t.teardown(() => {
    if (!cacheMade) return;
    for (const sub of ['/var/lib/cni/results', '/var/lib/cni']) {
      try {
        if (readdirSync(sub).length === 0) rmdirSync(sub);
      } catch {
        // not there, or not empty: left as it is
      }
    }
  });
  const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified || exit 1; fi; echo ready; exec sleep 100000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const holderOut = collectOutput(holder);
  t.teardown(() => stopChild(holder));
  await holderOut.untilStdout('the mount namespace holder', (o) => o.includes('ready'), 30000);
  const podman = async (...args: string[]): Promise<PodmanResult> => {
    const r = await execa('nsenter', [`--mount=/proc/${holder.pid}/ns/mnt`, 'podman', '--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), ...args], {
      env: { ...process.env, CONTAINERS_CONF: conf },
      reject: false,
      timeout: 120000,
    });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const ok = async (...args: string[]): Promise<string> => {
    const r = await podman(...args);
    if (r.exitCode !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };
  t.teardown(async () => {
    await podman('rm', '--all', '--force', '--time', '0');
  });
  return { podman, ok, network, rootfs, ipamDir };
}

/** The IPv4 address of eth0 in podman container @name. */
async function podmanIp(p: TestPodman, name: string): Promise<string> {
  const out = await p.ok('exec', name, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0');
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out);
  if (!m) throw new Error(`no IPv4 address on eth0 of ${name}: ${out}`);
  return m[1]!;
}

podmanTest('podman with the CNI backend: two containers and a containode container ping each other through containet; rm -f and stop remove the ports', async (t) => {
  const d = await startDaemon(t);
  const net = uniqueSubnet();
  const p = await testPodman(t, d, net);
  const node = await shellContainer(t, d, `${net}.200/24`);
  const [na, nb] = [uniqueName('ctnpa'), uniqueName('ctnpb')];
  const run = (name: string) => p.ok('run', '--detach', '--name', name, '--network', p.network, '--rootfs', p.rootfs, '/bin/sleep', '600');
  const ida = await run(na);
  const idb = await run(nb);
  t.regex(ida, /^[0-9a-f]{64}$/, 'podman run -d prints the container id');
  const [porta, portb] = [`${ida.slice(0, 12)}.eth0`, `${idb.slice(0, 12)}.eth0`];
  t.true((await portNames(d)).includes(porta), `port ${porta} on the daemon`);
  t.true((await portNames(d)).includes(portb), `port ${portb} on the daemon`);
  const [ipa, ipb] = [await podmanIp(p, na), await podmanIp(p, nb)];
  t.not(ipa, ipb);
  t.true(ipa.startsWith(`${net}.`) && ipb.startsWith(`${net}.`), `${ipa} and ${ipb} from host-local's range`);

  for (const [from, to] of [[na, ipb], [nb, ipa], [na, `${net}.200`]] as const) {
    const r = await p.podman('exec', from, 'ping', '-c', '1', '-w', '20', to);
    t.is(r.exitCode, 0, `${from} -> ${to}: ${r.stdout}${r.stderr}`);
  }
  t.is(await shell(node.c, `ping -c 1 -w 20 ${ipa}`, 60000), 0, 'the containode container reaches the podman container');

  await p.ok('rm', '--force', '--time', '0', na);
  t.false((await portNames(d)).includes(porta), 'podman rm -f ran DEL: the port is gone');
  t.true((await portNames(d)).includes(portb), 'the other container keeps its port');
  t.false(readdirSync(path.join(p.ipamDir, p.network)).includes(ipa), 'its address was released');
  const still = await p.podman('exec', nb, 'ping', '-c', '1', '-w', '20', `${net}.200`);
  t.is(still.exitCode, 0, still.stdout + still.stderr);

  await p.ok('stop', '--time', '0', nb);
  await waitFor(`port ${portb} to go after podman stop`, async () => !(await portNames(d)).includes(portb), 30000);
  await p.ok('rm', '--force', nb);
  t.deepEqual((await portNames(d)).filter((n) => n !== `${node.id}.eth0`), [], 'only the containode port is left');
});
