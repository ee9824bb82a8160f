// Compact JWS (RFC 7515) with EdDSA / Ed25519 (RFC 8037), through node:crypto.
// No cryptography here: node:crypto (OpenSSL) signs and verifies; this module only
// assembles the three base64url parts as PyJWT does (header keys sorted, compact JSON).

import crypto from "node:crypto";

import { pyDumps } from "./pyjson.mjs";

export const ALGORITHM = "EdDSA";
export const CREDENTIAL_TYPE = "fieldgate-credential+jwt";
export const PROOF_TYPE = "fieldgate-search-proof+jwt";
export const ANSWER_TYPE = "fieldgate-answer+jwt";
export const BUNDLE_TYPE = "fieldgate-trust-bundle+jwt";

/** A JWS that cannot be used; `reason` is "malformed" or "signature". */
export class JwsError extends Error {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

export const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

const B64URL = /^[A-Za-z0-9_-]*$/;

function fromB64url(part, what) {
  if (!B64URL.test(part)) {
    throw new JwsError("malformed", `${what} is not base64url`);
  }
  return Buffer.from(part, "base64url");
}

/**
 * Sign `payload` (an object written as Python's json.dumps would, see pyjson.mjs,
 * or a string taken as the exact payload text) with an Ed25519 private KeyObject.
 * @returns {string} the compact JWS
 */
export function sign(payload, key, typ) {
  // PyJWT sorts header keys: {"alg":...,"typ":...}.
  const header = pyDumps({ alg: ALGORITHM, typ });
  const body = typeof payload === "string" ? payload : pyDumps(payload);
  const input = `${b64url(header)}.${b64url(Buffer.from(body, "utf8"))}`;
  const signature = crypto.sign(null, Buffer.from(input, "ascii"), key);
  return `${input}.${b64url(signature)}`;
}

/**
 * The header and claims of a compact JWS, unverified (for one's own tokens only).
 * @returns {{header: object, claims: object, payloadBytes: Buffer}}
 */
export function decodeUnverified(token) {
  if (typeof token !== "string") {
    throw new JwsError("malformed", "a JWS is a string");
  }
  const parts = token.split(".");
  if (parts.length !== 3) {
    throw new JwsError("malformed", "a compact JWS has three parts");
  }
  let header;
  let claims;
  const payloadBytes = fromB64url(parts[1], "payload");
  try {
    header = JSON.parse(fromB64url(parts[0], "header").toString("utf8"));
    claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payloadBytes));
  } catch (error) {
    if (error instanceof JwsError) throw error;
    throw new JwsError("malformed", `not JSON (${error.message})`);
  }
  if (!isObject(header) || !isObject(claims)) {
    throw new JwsError("malformed", "header and payload must be JSON objects");
  }
  return { header, claims, payloadBytes };
}

/**
 * Verify a compact JWS: alg EdDSA, the expected typ, the signature by `key`.
 * @returns {object} the claims
 * @throws {JwsError} "malformed" (shape, alg, typ) or "signature"
 */
export function verify(token, key, typ) {
  const { header, claims } = decodeUnverified(token);
  if (header.alg !== ALGORITHM || header.typ !== typ) {
    throw new JwsError("malformed", `not a ${typ} signed with ${ALGORITHM}`);
  }
  const [h, p, s] = token.split(".");
  const signature = fromB64url(s, "signature");
  let ok = false;
  try {
    ok = crypto.verify(null, Buffer.from(`${h}.${p}`, "ascii"), key, signature);
  } catch {
    ok = false; // a signature of the wrong length is simply not a valid signature
  }
  if (!ok) {
    throw new JwsError("signature", "signature does not verify");
  }
  return claims;
}

export function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
