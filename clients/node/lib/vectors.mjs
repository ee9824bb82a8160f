// Keys of the test vectors (tests/vectors/v2/keys.json) as node:crypto objects.
// Seeds and private scalars are wrapped in their fixed PKCS#8 DER prefix
// (RFC 8410), so the public halves are derived here, independently of the JWKs
// the vectors list.

import crypto from "node:crypto";

const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");

function fromRaw(prefix, b64) {
  const raw = Buffer.from(b64, "base64url");
  if (raw.length !== 32) throw new Error("a raw private key is 32 bytes");
  return crypto.createPrivateKey({
    key: Buffer.concat([prefix, raw]),
    format: "der",
    type: "pkcs8",
  });
}

/** An Ed25519 private KeyObject from its 32-byte seed (b64url). */
export const ed25519FromSeed = (b64) => fromRaw(ED25519_PKCS8, b64);

/** An X25519 private key as a JWK (with d and x) from its 32 raw bytes (b64url). */
export const x25519JwkFromRaw = (b64) => fromRaw(X25519_PKCS8, b64).export({ format: "jwk" });
