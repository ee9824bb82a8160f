// Building one v2 search: the sealed-query plaintext, sealed once as the body
// under a fresh content key that is wrapped to every audience node, and the
// investigator's proof that commits to it (docs/protocol.md, "The request").
// The broker can read the proof (who, why, which case, which agencies) but
// never the query or the warrants.

import crypto from "node:crypto";

import { PROOF_TYPE, b64url, decodeUnverified, sign } from "./jws.mjs";
import { AudienceError, encodeAudience } from "./audience.mjs";
import { PyFloat } from "./pyjson.mjs";
import { contentKey, publicKey, sealBody, wrapKey } from "./sealing.mjs";

export const PROTOCOL_VERSION = 2;
export const SALT_BYTES = 32;
/** Longest proof a broker or node takes (docs/protocol.md §6: 16384 characters). */
export const MAX_PROOF_CHARS = 16384;
/** Content keys wrapped at once (see signSearch). */
const WRAP_BATCH = 32;

/** The proof's `sealed` claim: b64url SHA-256 of the exact plaintext bytes. */
export const commitment = (plaintext) =>
  b64url(crypto.createHash("sha256").update(plaintext).digest());

/**
 * The sealed-query plaintext as exact UTF-8 bytes (compact JSON; characters as themselves).
 * @param {{surname: string, given_name: string, dob: string, identifiers: string[][], max_hits: number}} query
 */
export function queryPlaintext(query, warrants, nonce, salt) {
  const document = {
    v: PROTOCOL_VERSION,
    nonce,
    salt: b64url(salt),
    query: {
      surname: query.surname,
      given_name: query.given_name,
      dob: query.dob,
      identifiers: query.identifiers.map(([kind, value]) => [kind, value]),
      max_hits: query.max_hits,
    },
    warrants: [...warrants],
  };
  return Buffer.from(JSON.stringify(document), "utf8");
}

/**
 * Seal the query once, wrap its key to every audience node and sign the proof.
 * @param {object} args {credential, signingKey, query, purpose, caseNumber, audience (node ids),
 *   nodeEnc (Map node id → raw X25519 public key), directory ({serial, nodes: Map id →
 *   {since}}: the proof's `aud` is written compact when that is shorter; without it, a
 *   list), warrants, nowMs, nonce, salt, key (the content key; fresh when not given),
 *   aud (the proof's claim as given, for test vectors; `audience` then says whose keys)}
 * @throws {AudienceError} the proof would be too long for a broker to take
 * @returns {Promise<{signed: object, proof: string, nonce: string, plaintext: Buffer,
 *   aud: string[] | {dir: number, except: string[]}}>}
 *   `signed` is a fieldgate.v2.SignedSearch as grpc-js takes it.
 */
export async function signSearch(args) {
  const { credential, signingKey, query, purpose, caseNumber, audience, nodeEnc } = args;
  if (!audience.length || new Set(audience).size !== audience.length || !audience.every(Boolean)) {
    throw new Error("a search is addressed to one or more distinct node ids");
  }
  const missing = audience.filter((id) => !nodeEnc.get(id));
  if (missing.length) {
    throw new Error(`no encryption key in the trust bundle for: ${missing.join(", ")}`);
  }
  const { claims } = decodeUnverified(credential);
  const nonce = args.nonce ?? crypto.randomBytes(16).toString("hex");
  const salt = args.salt ?? crypto.randomBytes(SALT_BYTES);
  const plaintext = queryPlaintext(query, args.warrants ?? [], nonce, salt);
  const nowMs = args.nowMs ?? Date.now();
  const aud =
    args.aud ?? (args.directory ? encodeAudience(audience, args.directory) : [...audience]);
  const payload = {
    v: PROTOCOL_VERSION,
    cid: claims.jti ?? "",
    sub: claims.sub ?? "",
    purpose,
    case_number: caseNumber,
    aud,
    // Seconds with milliseconds, as a float (written like Python writes one).
    iat: new PyFloat(Math.round(nowMs) / 1000),
    nonce,
    sealed: commitment(plaintext),
  };
  const proof = sign(payload, signingKey, PROOF_TYPE);
  if (proof.length > MAX_PROOF_CHARS) {
    // Refused here, before thousands of keys are wrapped, rather than by the broker.
    throw new AudienceError(
      `the proof is ${proof.length} characters, over ${MAX_PROOF_CHARS}: its audience ` +
        `(${audience.length} agencies) is too long to write; address fewer agencies`,
    );
  }
  const key = args.key ?? contentKey();
  const body = sealBody(key, plaintext, nonce);
  // Wrapped a batch at a time: the KEM's WebCrypto calls then overlap (a national
  // audience is thousands of nodes), and the keys stay in audience order.
  const keys = [];
  for (let i = 0; i < audience.length; i += WRAP_BATCH) {
    const batch = audience.slice(i, i + WRAP_BATCH).map(async (nodeId) => {
      const recipient = await publicKey(nodeEnc.get(nodeId));
      const { enc, wrapped } = await wrapKey(recipient, key, nodeId, nonce);
      return { node_id: nodeId, enc, wrapped };
    });
    keys.push(...(await Promise.all(batch)));
  }
  return { signed: { credential, proof, body, keys }, proof, nonce, plaintext, aud };
}
