#!/usr/bin/env bash
# Installs what containet needs on Debian 12, as root. Safe to run again.
#   (no option)  the compiler and headers for the native addon (libslirp for
#                the NAT), Node.js when absent, and what the daemon and
#                containode use;
#   --test       also what the tests use: iperf3, python3, and the vhost-user
#                peers (DPDK testpmd from dpdk-dev, QEMU, and the distribution
#                kernel whose virtio modules go into the test guest's
#                initramfs), clang and libFuzzer for the fuzz test, podman
#                (with crun, conmon and the reference CNI plugins) for the
#                CNI plugin's test, Open vSwitch with DPDK (a VXLAN and Geneve
#                peer of the tunnel tests; the OVS lans' tests), Chromium
#                (the graph page's browser test, driven by playwright-core), each run
#                privately by the test;
#   --bench      also what `npm run bench` drives and compares against
#                (trafgen from netsniff-ng, slirp4netns and pasta for the
#                NAT section; tc's tbf comes with iproute2).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential python3 pkg-config ca-certificates libslirp-dev libglib2.0-dev libpcap-dev
      iproute2 iputils-ping util-linux procps busybox-static)
test_pkgs=(iperf3 tcpdump tshark ethtool openvswitch-switch openvswitch-switch-dpdk isc-dhcp-client clang libclang-rt-14-dev dpdk-dev qemu-system-x86 linux-image-amd64
           podman crun conmon containernetworking-plugins chromium)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  pkgs+=(nodejs npm libnode-dev)
fi
for arg in "$@"; do
  case "$arg" in
    --test) pkgs+=("${test_pkgs[@]}") ;;
    --bench) pkgs+=("${test_pkgs[@]}" netsniff-ng slirp4netns passt) ;;
    *) echo "setup-debian: unknown option $arg (known: --test, --bench)" >&2; exit 2 ;;
  esac
done
# A machine whose last dpkg run was cut short refuses every install ("dpkg was
# interrupted") until the half-done packages are configured; another apt or
# dpkg still running holds the lock: wait for it rather than fail.
apt_opts=(-o DPkg::Lock::Timeout=600)
dpkg --configure -a
apt-get "${apt_opts[@]}" update -qq
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "setup-debian: installed ${pkgs[*]}"
