// The signed trust bundle: the one directory of node keys every party pins.
//
// A bundle file is {"signed": "<compact JWS>"} (typ fieldgate-trust-bundle+jwt,
// EdDSA by the federation authority); its payload is the bundle document. The
// client refuses an unsigned bundle, one signed by any other key, or one older
// than its maximum age (fail closed), and takes from it each node's answer key
// (`jwk`, Ed25519), encryption key (`enc`, X25519) and `since` (the directory
// serial when it joined; 0 when not said), and the directory's `serial`, which
// compact audiences and reaches ({"dir", "except"}) refer to.

import { BUNDLE_TYPE, JwsError, isObject, verify } from "./jws.mjs";
import { UsageError, ed25519FromJwk, readText, x25519RawFromJwk } from "./files.mjs";

/**
 * @typedef {{answerKey: import("node:crypto").KeyObject, enc: Buffer | null, since: number}}
 *   NodeKeys
 */

const isSerial = (value) => Number.isSafeInteger(value) && value >= 0;

/**
 * Open and check the bundle at `path`.
 * @returns {{issuedAt: Date, serial: number, nodes: Map<string, NodeKeys>}} (serial and
 *   since are 0 in a bundle older than serials)
 */
export function loadTrustBundle(path, authority, { now = new Date(), maxAgeSeconds = 86400 } = {}) {
  let document;
  try {
    document = JSON.parse(readText(path, "--trust-bundle"));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--trust-bundle ${path}: not valid JSON (${error.message})`);
  }
  if (
    !isObject(document) ||
    Object.keys(document).join() !== "signed" ||
    typeof document.signed !== "string"
  ) {
    throw new UsageError(
      `--trust-bundle ${path}: not signed, and this client pins a federation authority key`,
    );
  }
  let bundle;
  try {
    bundle = verify(document.signed, authority, BUNDLE_TYPE);
  } catch (error) {
    if (!(error instanceof JwsError)) throw error;
    const why =
      error.reason === "signature"
        ? "not signed by the pinned federation authority key"
        : error.message;
    throw new UsageError(`--trust-bundle ${path}: ${why}`);
  }
  const issuedAt = new Date(typeof bundle.issued_at === "string" ? bundle.issued_at : NaN);
  if (Number.isNaN(issuedAt.getTime())) {
    throw new UsageError(`--trust-bundle ${path}: issued_at is not an RFC 3339 timestamp`);
  }
  if ((now.getTime() - issuedAt.getTime()) / 1000 > maxAgeSeconds) {
    throw new UsageError(
      `--trust-bundle ${path}: issued ${bundle.issued_at}, older than ${maxAgeSeconds} s; refresh it`,
    );
  }
  const serial = bundle.serial ?? 0;
  if (!isSerial(serial)) {
    throw new UsageError(`--trust-bundle ${path}: serial is not a whole number ≥ 0`);
  }
  const entries = bundle.nodes ?? [];
  if (!Array.isArray(entries)) {
    throw new UsageError(`--trust-bundle ${path}: nodes must be a list of objects`);
  }
  const nodes = new Map();
  entries.forEach((entry, i) => {
    const where = `--trust-bundle ${path}: nodes[${i}]`;
    if (!isObject(entry) || typeof entry.id !== "string" || !entry.id) {
      throw new UsageError(`${where}: id is a required string`);
    }
    if (nodes.has(entry.id)) {
      throw new UsageError(`${where}: node ${JSON.stringify(entry.id)} is listed twice`);
    }
    const since = entry.since ?? 0;
    if (!isSerial(since) || since > serial) {
      throw new UsageError(`${where}: since is not a serial of this directory (0 to ${serial})`);
    }
    try {
      const answerKey = ed25519FromJwk(entry.jwk);
      const enc = entry.enc === undefined ? null : x25519RawFromJwk(entry.enc);
      nodes.set(entry.id, { answerKey, enc, since });
    } catch (error) {
      throw new UsageError(`${where}: ${error.message}`);
    }
  });
  return { issuedAt, serial, nodes };
}
