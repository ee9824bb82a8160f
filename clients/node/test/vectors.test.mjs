// The Node.js implementation against every structure in tests/vectors/v2:
// JWS byte for byte (Ed25519 is deterministic), HPKE envelopes opened to the
// expected padded plaintext (HPKE is randomised: its own seals must round-trip),
// padding accepted and refused exactly as the vectors say.
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
  ANSWER_BUCKETS,
  QUERY_BUCKETS,
  SUITE,
  SealingError,
  answerInfo,
  openPadded,
  pad,
  privateKey,
  publicKey,
  queryInfo,
  sealPadded,
  unpad,
} from "../lib/sealing.mjs";
import { commitment, queryPlaintext, signSearch } from "../lib/search.mjs";
import { ed25519FromSeed, x25519JwkFromRaw } from "../lib/vectors.mjs";

const DIR =
  process.env.FIELDGATE_VECTORS ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../tests/vectors/v2");
const load = (name) => JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), "utf8"));

const keys = load("keys");
const tokens = load("tokens");
const search = load("search");
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

test("the sealed-query plaintext, its commitment and the proof are reproduced byte for byte", async () => {
  const { inputs } = search;
  const plaintext = queryPlaintext(
    inputs.query,
    inputs.warrants,
    inputs.nonce,
    bytes(inputs.salt_b64url),
  );
  assert.equal(plaintext.toString("utf8"), search.plaintext);
  assert.equal(commitment(plaintext), search.commitment);
  assert.equal(pad(plaintext, QUERY_BUCKETS).toString("base64url"), search.padded_b64url);
  const nodeEnc = new Map(
    Object.entries(keys.node_keys).map(([id, k]) => [id, bytes(keys.x25519[k.enc].public_jwk.x)]),
  );
  const built = await signSearch({
    credential: tokens.credential.jws,
    signingKey: signer("investigator"),
    query: inputs.query,
    purpose: inputs.purpose,
    caseNumber: inputs.case_number,
    audience: inputs.audience,
    nodeEnc,
    warrants: inputs.warrants,
    nowMs: Math.round(inputs.iat * 1000),
    nonce: inputs.nonce,
    salt: bytes(inputs.salt_b64url),
  });
  const [header, payload, signature] = search.proof.jws.split(".");
  assert.equal(bytes(header).toString("utf8"), search.proof.header_json);
  assert.equal(bytes(payload).toString("utf8"), search.proof.payload_json);
  assert.equal(signature, search.proof.signature_b64url);
  assert.equal(built.proof, search.proof.jws);
  // This implementation's own envelopes open, with the node's key, to the same bytes.
  for (const sealed of built.signed.sealed) {
    const recipient = await privateKey(encJwk(keys.node_keys[sealed.node_id].enc));
    const opened = await openPadded(
      recipient,
      sealed.enc,
      sealed.ciphertext,
      QUERY_BUCKETS,
      queryInfo(sealed.node_id),
      inputs.nonce,
    );
    assert.deepEqual(opened, plaintext);
  }
});

test("the vectors' sealed queries open to the expected padded plaintext", async () => {
  for (const sealed of search.sealed) {
    const recipient = await privateKey(encJwk(sealed.recipient));
    assert.equal(Buffer.from(queryInfo(sealed.node_id)).toString(), sealed.info);
    const padded = await SUITE.open(
      {
        recipientKey: recipient,
        enc: new Uint8Array(bytes(sealed.enc_b64url)),
        info: queryInfo(sealed.node_id),
      },
      new Uint8Array(bytes(sealed.ciphertext_b64url)),
      new Uint8Array(Buffer.from(sealed.aad, "ascii")),
    );
    assert.equal(Buffer.from(padded).toString("base64url"), search.padded_b64url, sealed.node_id);
    // Another node's key, or another node's info, does not open it.
    const other = sealed.node_id === "kcso" ? "spd" : "kcso";
    await assert.rejects(
      openPadded(
        recipient,
        bytes(sealed.enc_b64url),
        bytes(sealed.ciphertext_b64url),
        QUERY_BUCKETS,
        queryInfo(other),
        sealed.aad,
      ),
      (error) => error instanceof SealingError && error.reason === "unsealable",
    );
  }
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
