// HPKE envelopes and padding of protocol v2 (docs/protocol.md, "Sealing").
//
// HPKE RFC 9180 mode_base, single-shot, suite DHKEM(X25519, HKDF-SHA256) /
// HKDF-SHA256 / ChaCha20-Poly1305 (0x0020 / 0x0001 / 0x0003), through the
// @hpke/core (its KEM on the runtime's WebCrypto X25519, about 3-4x less CPU
// per seal than @hpke/dhkem-x25519's pure JavaScript) and @hpke/chacha20poly1305
// packages; a query's
// body is sealed once with ChaCha20-Poly1305 (RFC 8439) from node:crypto
// (OpenSSL) under a fresh content key, which HPKE wraps for each node. No
// cryptography is written here: this module fixes the parameters and the padding.

import crypto from "node:crypto";

import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";

export const SUITE = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Chacha20Poly1305(),
});

export const TAG_BYTES = 16;
export const ENC_BYTES = 32;
export const LENGTH_PREFIX = 4;
/** Padded sizes of a sealed query: 4096 x 4^k. */
export const QUERY_BUCKETS = Object.freeze([4096, 16384, 65536]);
/** Padded sizes of a sealed answer: 8192 x 4^k. */
export const ANSWER_BUCKETS = Object.freeze([8192, 32768, 131072, 524288, 2097152]);

/** An envelope that cannot be made or opened; `reason`: too_large, unsealable or malformed. */
export class SealingError extends Error {
  constructor(reason, message) {
    super(`${reason}: ${message}`);
    this.reason = reason;
  }
}

// Fresh, unshared copies: a small Buffer is a view into a shared pool, and a
// library that reads the view's whole underlying ArrayBuffer would read the pool.
const own = (bytes) => new Uint8Array(bytes);
const ascii = (text) => own(Buffer.from(text, "utf8"));

/** HPKE info of one node's wrapped content key. */
export const queryKeyInfo = (nodeId) => ascii(`fieldgate/v2 query key ${nodeId}`);
/** AEAD associated data of a query's body: binds it to its search. */
export const queryBodyAad = (nonce) => ascii(`fieldgate/v2 query body ${nonce}`);
export const answerInfo = (nodeId) => ascii(`fieldgate/v2 answer ${nodeId}`);

/** uint32_be(len(body)) || body || zeros, up to the smallest bucket that holds it. */
export function pad(body, buckets) {
  const needed = LENGTH_PREFIX + body.length;
  const size = buckets.find((b) => needed <= b);
  if (size === undefined) {
    throw new SealingError("too_large", `${body.length} bytes do not fit ${buckets.at(-1)} padded`);
  }
  const padded = Buffer.alloc(size);
  padded.writeUInt32BE(body.length, 0);
  Buffer.from(body).copy(padded, LENGTH_PREFIX);
  return padded;
}

/** The body of a padded plaintext; refuses a non-bucket size, a long prefix, non-zero padding. */
export function unpad(padded, buckets) {
  const bytes = Buffer.from(padded);
  if (!buckets.includes(bytes.length)) {
    throw new SealingError("malformed", `padded size ${bytes.length} is not a bucket`);
  }
  const end = LENGTH_PREFIX + bytes.readUInt32BE(0);
  if (end > bytes.length) {
    throw new SealingError("malformed", "length prefix beyond the padded size");
  }
  if (bytes.subarray(end).some((b) => b !== 0)) {
    throw new SealingError("malformed", "padding is not zero");
  }
  return bytes.subarray(LENGTH_PREFIX, end);
}

/** An HPKE recipient public key from its raw 32 bytes. */
export async function publicKey(raw) {
  return SUITE.kem.importKey("raw", own(raw), true);
}

/** An HPKE recipient private key from a private X25519 JWK ({kty, crv, d, x}). */
export async function privateKey(jwk) {
  return SUITE.kem.importKey("jwk", jwk, false);
}

/** Pad and seal `body`; aad is the ASCII nonce. @returns {{enc: Buffer, ciphertext: Buffer}} */
export async function sealPadded(recipient, body, buckets, info, nonce) {
  const padded = pad(body, buckets);
  const { enc, ct } = await SUITE.seal(
    { recipientPublicKey: recipient, info },
    own(padded),
    ascii(nonce),
  );
  return { enc: Buffer.from(enc), ciphertext: Buffer.from(ct) };
}

/** Check the size, open and unpad. @throws {SealingError} malformed or unsealable */
export async function openPadded(recipient, enc, ciphertext, buckets, info, nonce) {
  if (!buckets.includes(ciphertext.length - TAG_BYTES)) {
    throw new SealingError("malformed", `ciphertext of ${ciphertext.length} bytes is not a bucket`);
  }
  if (enc.length !== ENC_BYTES) {
    throw new SealingError("unsealable", `enc is ${enc.length} bytes, not ${ENC_BYTES}`);
  }
  let padded;
  try {
    padded = await SUITE.open(
      { recipientKey: recipient, enc: own(enc), info },
      own(ciphertext),
      ascii(nonce),
    );
  } catch (error) {
    throw new SealingError("unsealable", `HPKE open failed (${error.name})`);
  }
  return unpad(Buffer.from(padded), buckets);
}

/** Bytes of a query's content key, and of its HPKE-wrapped form (key + tag). */
export const CONTENT_KEY_BYTES = 32;
export const WRAPPED_BYTES = CONTENT_KEY_BYTES + TAG_BYTES;
// The content key is drawn fresh for every search and seals one body only, so
// the all-zero nonce is never used twice under one key.
const BODY_NONCE = Buffer.alloc(12);

function bodyCipher(make, key) {
  if (key.length !== CONTENT_KEY_BYTES) {
    throw new SealingError("unsealable", `a content key is ${CONTENT_KEY_BYTES} bytes`);
  }
  return make("chacha20-poly1305", key, BODY_NONCE, { authTagLength: TAG_BYTES });
}

/** A fresh random content key for one search. */
export const contentKey = () => crypto.randomBytes(CONTENT_KEY_BYTES);

/** Pad `plaintext` (query buckets) and seal it under `key`: ciphertext || tag. */
export function sealBody(key, plaintext, nonce) {
  const padded = pad(plaintext, QUERY_BUCKETS);
  const cipher = bodyCipher(crypto.createCipheriv, key);
  cipher.setAAD(queryBodyAad(nonce), { plaintextLength: padded.length });
  return Buffer.concat([cipher.update(padded), cipher.final(), cipher.getAuthTag()]);
}

/** Open and unpad a query body. @throws {SealingError} malformed or unsealable */
export function openBody(key, body, nonce) {
  if (!QUERY_BUCKETS.includes(body.length - TAG_BYTES)) {
    throw new SealingError("malformed", `a body of ${body.length} bytes is not a bucket`);
  }
  const decipher = bodyCipher(crypto.createDecipheriv, key);
  const end = body.length - TAG_BYTES;
  decipher.setAAD(queryBodyAad(nonce), { plaintextLength: end });
  decipher.setAuthTag(body.subarray(end));
  let padded;
  try {
    padded = Buffer.concat([decipher.update(body.subarray(0, end)), decipher.final()]);
  } catch {
    throw new SealingError("unsealable", "the body does not open with this key");
  }
  return unpad(padded, QUERY_BUCKETS);
}

/** Wrap the content key for `nodeId` (HPKE, aad the ASCII nonce). @returns {{enc, wrapped}} */
export async function wrapKey(recipient, key, nodeId, nonce) {
  const { enc, ct } = await SUITE.seal(
    { recipientPublicKey: recipient, info: queryKeyInfo(nodeId) },
    own(key),
    ascii(nonce),
  );
  return { enc: Buffer.from(enc), wrapped: Buffer.from(ct) };
}

/** Unwrap a content key with the node's private key. @throws {SealingError} unsealable */
export async function unwrapKey(recipient, enc, wrapped, nodeId, nonce) {
  if (enc.length !== ENC_BYTES || wrapped.length !== WRAPPED_BYTES) {
    throw new SealingError("unsealable", "enc or wrapped key of the wrong size");
  }
  try {
    const key = await SUITE.open(
      { recipientKey: recipient, enc: own(enc), info: queryKeyInfo(nodeId) },
      own(wrapped),
      ascii(nonce),
    );
    return Buffer.from(key);
  } catch (error) {
    throw new SealingError("unsealable", `HPKE open failed (${error.name})`);
  }
}
