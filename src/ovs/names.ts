/**
 * The names containet gives what it makes in Open vSwitch, as cloonix names
 * them: the bridge of lan L is `_b_L`; port N of object O is `_k_O_N` (a
 * vhost or dpdk port is its object's port 0); a mirror's output port is
 * `s_k_O_N`. The join of lan L (the OVS end of the link to containet's lan)
 * is `_j_L`, on a DPDK virtio_user device `net_virtio_user_j_L`.
 */

/** Longest name of an OVS lan: its bridge `_b_NAME` is also a tap (the
 *  bridge's internal port), and a device name holds 15 bytes. */
export const MAX_OVS_LAN_NAME = 12;

/** What an OVS lan's name may be: a device name's characters. */
export const OVS_LAN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,11}$/;

/** The bridge of lan @lan. */
export function bridgeName(lan: string): string {
  return `_b_${lan}`;
}

/** Port @n of object @obj. */
export function portName(obj: string, n = 0): string {
  return `_k_${obj}_${n}`;
}

/** The output port of a mirror of port @n of object @obj. */
export function mirrorOutputName(obj: string, n = 0): string {
  return `s_k_${obj}_${n}`;
}

/** The OVS port of lan @lan's join. */
export function joinPortName(lan: string): string {
  return `_j_${lan}`;
}

/** The DPDK device of lan @lan's join (a vdev's name starts with its driver's). */
export function joinDeviceName(lan: string): string {
  return `net_virtio_user_j_${lan}`;
}
