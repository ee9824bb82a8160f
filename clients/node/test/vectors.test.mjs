// The Node.js implementation against every structure in tests/vectors/v2:
// JWS and the query body byte for byte (Ed25519 and the fixed content key are
// deterministic), wrapped keys and answers opened (HPKE is randomised: its own
// seals must round-trip), both audience forms, padding accepted and refused
// exactly as the vectors say.
// Run: node --test test/   (FIELDGATE_VECTORS overrides the vectors directory)

import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { openAnswer, proofDigest } from "../lib/answers.mjs";
import { ANSWER_TYPE, CREDENTIAL_TYPE, b64url, sign } from "../lib/jws.mjs";
import { loadTypes } from "../lib/proto.mjs";
import {
  beyond,
  contains,
  encodeAudience,
  parseAudience,
  parseUnreached,
} from "../lib/audience.mjs";
import {
  ANSWER_BUCKETS,
  QUERY_BUCKETS,
  SealingError,
  answerInfo,
  openBody,
  openPadded,
  pad,
  privateKey,
  publicKey,
  queryBodyAad,
  queryKeyInfo,
  sealPadded,
  unpad,
  unwrapKey,
} from "../lib/sealing.mjs";
import { commitment, queryPlaintext, signSearch } from "../lib/search.mjs";
import { ed25519FromSeed, x25519JwkFromRaw } from "../lib/vectors.mjs";

const DIR =
  process.env.FIELDGATE_VECTORS ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../tests/vectors/v2");
const load = (name) => JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), "utf8"));

const keys = load("keys");
const tokens = load("tokens");
const answers = load("answers");
const padding = load("padding");
const WARRANT_TYPE = "fieldgate-warrant+jwt";

const signer = (name) => ed25519FromSeed(keys.ed25519[name].seed_b64url);
const encJwk = (name) => x25519JwkFromRaw(keys.x25519[name].private_b64url);
const bytes = (b64) => Buffer.from(b64, "base64url");

test("every key's public half is the JWK the vectors publish", () => {
  for (const [name, entry] of Object.entries(keys.ed25519)) {
    const { x } = crypto.createPublicKey(signer(name)).export({ format: "jwk" });
    assert.equal(x, entry.public_jwk.x, name);
  }
  for (const [name, entry] of Object.entries(keys.x25519)) {
    assert.equal(encJwk(name).x, entry.public_jwk.x, name);
  }
});

test("credential and warrant JWS are reproduced byte for byte", () => {
  assert.equal(
    sign(tokens.credential.payload, signer("issuer"), CREDENTIAL_TYPE),
    tokens.credential.jws,
  );
  assert.equal(sign(tokens.warrant.payload, signer("court"), WARRANT_TYPE), tokens.warrant.jws);
});

const SEARCHES = [
  ["search", "credential"],
  ["search_compact", "credential_compact"],
];
const directoryOf = (doc) =>
  doc && {
    serial: doc.serial,
    nodes: new Map(Object.entries(doc.since).map(([id, since]) => [id, { since }])),
  };
/** The node ids a claim names over a directory (the list itself, or the matches, sorted). */
function named(claim, directory) {
  if (Array.isArray(claim)) return [...claim];
  const parsed = parseAudience(claim, "aud");
  return [...directory.nodes]
    .filter(([id, node]) => contains(parsed, id, node.since))
    .map(([id]) => id)
    .sort();
}
const encName = (nodeId) => keys.node_keys[nodeId].enc;

for (const [name, credential] of SEARCHES) {
  const vector = load(name);
  const { inputs } = vector;

  test(`${name}: plaintext, commitment, proof and body reproduced byte for byte`, async () => {
    const plaintext = queryPlaintext(
      inputs.query,
      inputs.warrants,
      inputs.nonce,
      bytes(inputs.salt_b64url),
    );
    assert.equal(plaintext.toString("utf8"), vector.plaintext);
    assert.equal(commitment(plaintext), vector.commitment);
    assert.equal(pad(plaintext, QUERY_BUCKETS).toString("base64url"), vector.padded_b64url);
    const directory = directoryOf(inputs.directory);
    const audience = named(inputs.audience, directory);
    const nodeEnc = new Map(
      audience.map((id) => [id, bytes(keys.x25519[encName(id)].public_jwk.x)]),
    );
    const key = bytes(inputs.content_key_b64url);
    const built = await signSearch({
      credential: tokens[credential].jws,
      signingKey: signer("investigator"),
      query: inputs.query,
      purpose: inputs.purpose,
      caseNumber: inputs.case_number,
      audience,
      nodeEnc,
      aud: inputs.audience, // the claim as the vector gives it
      warrants: inputs.warrants,
      nowMs: Math.round(inputs.iat * 1000),
      nonce: inputs.nonce,
      salt: bytes(inputs.salt_b64url),
      key,
    });
    const [header, payload, signature] = vector.proof.jws.split(".");
    assert.equal(bytes(header).toString("utf8"), vector.proof.header_json);
    assert.equal(bytes(payload).toString("utf8"), vector.proof.payload_json);
    assert.equal(signature, vector.proof.signature_b64url);
    assert.equal(built.proof, vector.proof.jws);
    assert.deepEqual(JSON.parse(vector.proof.payload_json).aud, inputs.audience);
    // The body is deterministic under the fixed content key: 12 zero nonce bytes, the aad.
    assert.deepEqual(bytes(vector.body_nonce_b64url), Buffer.alloc(12));
    assert.equal(Buffer.from(queryBodyAad(inputs.nonce)).toString(), vector.body_aad);
    assert.equal(built.signed.body.toString("base64url"), vector.body_b64url);
    assert.deepEqual(
      built.signed.keys.map((k) => k.node_id),
      vector.keys.map((k) => k.node_id),
    );
    // This implementation's own wrapped keys open, with each node's key, to the content key.
    for (const wrapped of built.signed.keys) {
      const recipient = await privateKey(encJwk(encName(wrapped.node_id)));
      assert.deepEqual(
        await unwrapKey(recipient, wrapped.enc, wrapped.wrapped, wrapped.node_id, inputs.nonce),
        key,
      );
    }
  });

  test(`${name}: committed wrapped keys open to the content key, the body to the plaintext`, async () => {
    const key = bytes(inputs.content_key_b64url);
    const unsealable = (error) => error instanceof SealingError && error.reason === "unsealable";
    const investigator = await privateKey(encJwk("investigator_enc"));
    for (const wrapped of vector.keys) {
      assert.equal(Buffer.from(queryKeyInfo(wrapped.node_id)).toString(), wrapped.info);
      assert.equal(wrapped.aad, inputs.nonce);
      const enc = bytes(wrapped.enc_b64url);
      const sealed = bytes(wrapped.wrapped_b64url);
      assert.deepEqual([enc.length, sealed.length], [32, 48]);
      const recipient = await privateKey(encJwk(wrapped.recipient));
      assert.deepEqual(await unwrapKey(recipient, enc, sealed, wrapped.node_id, wrapped.aad), key);
      // Another's key, another node's info, another search: it does not open.
      await assert.rejects(
        unwrapKey(investigator, enc, sealed, wrapped.node_id, wrapped.aad),
        unsealable,
      );
      await assert.rejects(unwrapKey(recipient, enc, sealed, "ice-ero", wrapped.aad), unsealable);
      await assert.rejects(
        unwrapKey(recipient, enc, sealed, wrapped.node_id, "f".repeat(32)),
        unsealable,
      );
    }
    const body = bytes(vector.body_b64url);
    assert.equal(openBody(key, body, inputs.nonce).toString("utf8"), vector.plaintext);
    assert.throws(() => openBody(key, body, "f".repeat(32)), unsealable);
    assert.throws(() => openBody(Buffer.alloc(32), body, inputs.nonce), unsealable);
  });
}

test("audience vectors: membership, the shorter form, audience within reach", () => {
  const vector = load("audience");
  const directory = directoryOf(vector.directory);
  for (const c of vector.contains) {
    const claim = parseAudience(c.claim, "aud");
    assert.equal(contains(claim, c.node_id, c.since ?? undefined), c.named, JSON.stringify(c));
  }
  for (const c of vector.shorter_form) {
    assert.deepEqual(encodeAudience(c.members, directoryOf(c.directory)), c.claim);
  }
  for (const c of vector.within_reach) {
    const audience = parseAudience(c.audience, "aud");
    const reach = parseAudience(c.reach, "reach");
    if (typeof c.beyond === "string") {
      assert.throws(() => beyond(audience, reach, directory), /newer/);
    } else {
      assert.deepEqual(beyond(audience, reach, directory), c.beyond, JSON.stringify(c));
    }
  }
  // Both outcomes, both forms.
  assert.deepEqual(new Set(vector.contains.map((c) => c.named)), new Set([true, false]));
  assert.ok(vector.shorter_form.some((c) => Array.isArray(c.claim)));
  assert.ok(vector.shorter_form.some((c) => !Array.isArray(c.claim)));
});

test("the compact credential: byte for byte; its reach and grouped unreached read", () => {
  const vector = tokens.credential_compact;
  assert.equal(sign(vector.payload, signer("issuer"), CREDENTIAL_TYPE), vector.jws);
  const reach = parseAudience(vector.payload.reach, "reach");
  const why = parseUnreached(vector.payload.unreached);
  // Over the vectors' directory, exactly the nodes the issuer kept out are not reached.
  for (const [id, node] of directoryOf(load("audience").directory).nodes) {
    assert.equal(contains(reach, id, node.since), !why.has(id), id);
  }
  assert.equal(why.get("ice-ero"), "civil immigration agency");
});

test("every answer vector: JWS byte for byte, opens, verifies, and our own seal round-trips", async () => {
  const hitType = loadTypes().lookupType("fieldgate.v2.Hit");
  const nodes = new Map(
    Object.entries(keys.node_keys).map(([id, k]) => [
      id,
      {
        answerKey: crypto.createPublicKey(signer(k.answer)),
        enc: bytes(keys.x25519[k.enc].public_jwk.x),
      },
    ]),
  );
  const investigator = await privateKey(encJwk("investigator_enc"));
  assert.equal(proofDigest(answers.proof), JSON.parse(answers.answers[0].payload_json).req);
  for (const vector of answers.answers) {
    assert.equal(
      sign(vector.payload_json, signer(vector.signer), ANSWER_TYPE),
      vector.jws,
      vector.name,
    );
    assert.equal(Buffer.from(answerInfo(vector.node_id)).toString(), vector.info);
    const ctx = {
      encKey: investigator,
      nodeId: vector.node_id,
      nonce: vector.aad,
      proof: answers.proof,
      nodes,
      hitType,
      now: new Date(vector.iat * 1000),
    };
    const sealed = { enc: bytes(vector.enc_b64url), ciphertext: bytes(vector.ciphertext_b64url) };
    assert.equal(sealed.ciphertext.length, vector.padded_length + 16);
    const body = await openPadded(
      investigator,
      sealed.enc,
      sealed.ciphertext,
      ANSWER_BUCKETS,
      answerInfo(vector.node_id),
      vector.aad,
    );
    assert.equal(body.toString("ascii"), vector.jws, vector.name);
    const verified = await openAnswer(sealed, ctx);
    assert.equal(verified.status, vector.status);
    assert.equal(verified.reason, vector.reason);
    assert.deepEqual(verified.hits, vector.hits);
    const recipient = await publicKey(bytes(keys.x25519[vector.recipient].public_jwk.x));
    const own = await sealPadded(
      recipient,
      Buffer.from(vector.jws, "ascii"),
      ANSWER_BUCKETS,
      answerInfo(vector.node_id),
      vector.aad,
    );
    assert.deepEqual(await openAnswer(own, ctx), verified);
    // Relayed as another node's answer, the same bytes fail (info binds the node).
    const asSpd = { ...ctx, nodeId: "spd" };
    await assert.rejects(openAnswer(sealed, asSpd), (error) => error.reason === "unsealable");
    // An hour later it is stale.
    await assert.rejects(
      openAnswer(sealed, { ...ctx, now: new Date((vector.iat + 3600) * 1000) }),
      (error) => error.reason === "stale",
    );
  }
});

test("padding: sizes, too large and refused exactly as the vectors say", () => {
  const buckets = { query: QUERY_BUCKETS, answer: ANSWER_BUCKETS };
  assert.deepEqual([...QUERY_BUCKETS], padding.buckets.query);
  assert.deepEqual([...ANSWER_BUCKETS], padding.buckets.answer);
  for (const good of padding.good) {
    const body = Buffer.alloc(good.body_length, 0x61);
    const padded = pad(body, buckets[good.buckets]);
    assert.equal(padded.length, good.padded_length);
    assert.deepEqual(unpad(padded, buckets[good.buckets]), body);
  }
  for (const big of padding.too_large) {
    assert.throws(
      () => pad(Buffer.alloc(big.body_length), buckets[big.buckets]),
      (error) => error.reason === "too_large",
    );
  }
  for (const bad of padding.refused) {
    const which = bad.buckets ? buckets[bad.buckets] : QUERY_BUCKETS;
    assert.throws(
      () => unpad(bytes(bad.padded_b64url), which),
      (error) => error.reason === "malformed",
      bad.why,
    );
  }
});
