#!/usr/bin/env bash
# Installs what containet needs on Debian 12, as root: the compiler and headers for
# the native addon, Node.js when absent, and the tools the daemon, containode and
# the tests use (the tests' vhost-user peers: DPDK testpmd from dpdk-dev, QEMU, and
# the distribution kernel whose virtio modules go into the test guest's initramfs;
# clang and libFuzzer for the fuzz test). With --bench, also what `npm run bench` compares against and
# drives (trafgen from netsniff-ng, Open vSwitch). Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential python3 pkg-config ca-certificates
      iproute2 iputils-ping util-linux procps busybox-static iperf3 ethtool
      clang libclang-rt-14-dev
      dpdk-dev qemu-system-x86 linux-image-amd64)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  pkgs+=(nodejs npm libnode-dev)
fi
for arg in "$@"; do
  case "$arg" in
    --bench) pkgs+=(netsniff-ng openvswitch-switch) ;;
    *) echo "setup-debian: unknown option $arg (known: --bench)" >&2; exit 2 ;;
  esac
done
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "setup-debian: installed ${pkgs[*]}"
