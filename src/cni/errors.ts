/**
 * The CNI plugin's errors: the spec's well-known codes, the plugin's own
 * (100 and up), and the error JSON the spec asks for on stdout.
 */

/** Error codes: 1-11 are the spec's (SPEC.md, "Error"), 100+ the plugin's own. */
export const CniCode = {
  /** the config's cniVersion is not one the plugin speaks */
  incompatibleVersion: 1,
  /** a field of the network config the plugin does not know */
  unsupportedField: 2,
  /** the container's network namespace is not there */
  unknownContainer: 3,
  /** a CNI_* variable missing or malformed (the message names it) */
  invalidEnv: 4,
  /** stdin could not be read */
  ioFailure: 5,
  /** stdin (or a delegated plugin's answer) is not the JSON expected */
  decodeFailure: 6,
  /** the network config fails validation */
  invalidConfig: 7,
  /** a transient condition (a busy or absent daemon): the runtime may retry */
  tryAgainLater: 11,
  /** the daemon refused the request (its reason in details) */
  daemonRefused: 100,
  /** setting up or checking the interface in the namespace failed */
  interfaceFailure: 101,
  /** the delegated IPAM plugin could not be run or answered badly */
  ipamFailure: 102,
  /** CHECK found the attachment not as it should be */
  checkFailed: 103,
  /** anything else: a bug of the plugin */
  internal: 199,
} as const;

/** A failure the plugin reports as the spec's error JSON. */
export class CniError extends Error {
  /**
   * @code: a CniCode (or a delegated plugin's code, passed on); @msg: short
   * text; @details: the longer reason, when there is one.
   */
  constructor(
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(msg);
  }
}

/** The spec's error object for @e (any thrown value) under @cniVersion. */
export function errorJson(e: unknown, cniVersion: string): Record<string, unknown> {
  if (e instanceof CniError) {
    return { cniVersion, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) };
  }
  return { cniVersion, code: CniCode.internal, msg: 'internal error', details: e instanceof Error ? e.message : String(e) };
}
