// The investigator's files, as `fieldgate keygen`, `fieldgate credential issue`
// and the development trust kit write them: PKCS#8 PEM private keys (Ed25519 for
// signing, X25519 for opening answers), the credential as compact JWT text, the
// federation authority's SubjectPublicKeyInfo PEM. Every error names the file.

import crypto from "node:crypto";
import fs from "node:fs";

/** A file or flag the client cannot use; the message names it and why. */
export class UsageError extends Error {}

export function readText(path, what) {
  try {
    return fs.readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(
      `${what} ${path}: ${error.code === "ENOENT" ? "no such file" : error.message}`,
    );
  }
}

function privateKeyOf(path, what, type) {
  let key;
  try {
    key = crypto.createPrivateKey(readText(path, what));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${what} ${path}: not a readable unencrypted private key PEM`);
  }
  if (key.asymmetricKeyType !== type) {
    throw new UsageError(`${what} ${path}: not an ${type} key (it is ${key.asymmetricKeyType})`);
  }
  return key;
}

/** The investigator's Ed25519 signing key (the credential's `cnf`). */
export const loadSigningKey = (path) => privateKeyOf(path, "--key", "ed25519");

/** The investigator's X25519 key (the credential's `enc`), as a private JWK. */
export function loadEncKey(path) {
  return privateKeyOf(path, "--enc-key", "x25519").export({ format: "jwk" });
}

/** The pinned federation authority key (Ed25519 public). */
export function loadAuthorityKey(path) {
  const pem = readText(path, "--authority");
  let key;
  try {
    key = pem.includes("PRIVATE KEY")
      ? crypto.createPublicKey(crypto.createPrivateKey(pem))
      : crypto.createPublicKey(pem);
  } catch {
    throw new UsageError(`--authority ${path}: not a public key PEM`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new UsageError(`--authority ${path}: not an Ed25519 key`);
  }
  return key;
}

/** An Ed25519 public KeyObject from a public JWK; throws Error naming what is wrong. */
export function ed25519FromJwk(jwk) {
  if (!jwk || jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") {
    throw new Error("not an Ed25519 public JWK");
  }
  if ("d" in jwk) {
    throw new Error("a private key was sent where a public key belongs");
  }
  return crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
}

/** The raw 32 bytes of a public X25519 JWK; throws Error naming what is wrong. */
export function x25519RawFromJwk(jwk) {
  if (!jwk || jwk.kty !== "OKP" || jwk.crv !== "X25519" || typeof jwk.x !== "string") {
    throw new Error("not an X25519 public JWK");
  }
  if ("d" in jwk) {
    throw new Error("a private key was sent where a public key belongs");
  }
  const raw = Buffer.from(jwk.x, "base64url");
  if (raw.length !== 32 || raw.toString("base64url") !== jwk.x) {
    throw new Error("x is not 32 bytes of base64url");
  }
  return raw;
}

/** The public JWK of an Ed25519 private KeyObject. */
export function publicJwk(privateKey) {
  const { kty, crv, x } = crypto.createPublicKey(privateKey).export({ format: "jwk" });
  return { kty, crv, x };
}
