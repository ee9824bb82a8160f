// Every way an answer can fail verification, with the reason the client counts.
// Answers are made here with the vectors' fixed keys (the node's, or the wrong
// one), sealed with this implementation, and opened by openAnswer.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { openAnswer, proofDigest } from "../lib/answers.mjs";
import { ANSWER_TYPE, sign } from "../lib/jws.mjs";
import { loadTypes } from "../lib/proto.mjs";
import {
  ANSWER_BUCKETS,
  SUITE,
  answerInfo,
  pad,
  privateKey,
  publicKey,
  sealPadded,
} from "../lib/sealing.mjs";
import { ed25519FromSeed, x25519JwkFromRaw } from "../lib/vectors.mjs";

const DIR =
  process.env.FIELDGATE_VECTORS ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../tests/vectors/v2");
const keys = JSON.parse(fs.readFileSync(path.join(DIR, "keys.json"), "utf8"));

const NONCE = "0123456789abcdef0123456789abcdef";
const PROOF = "eyJhbGciOiJFZERTQSJ9.e30.c2ln"; // only its digest matters here
const NOW = 1796300001;
const signer = (name) => ed25519FromSeed(keys.ed25519[name].seed_b64url);
const investigatorPub = Buffer.from(keys.x25519.investigator_enc.public_jwk.x, "base64url");

const nodes = new Map(
  Object.entries(keys.node_keys).map(([id, k]) => [
    id,
    { answerKey: crypto.createPublicKey(signer(k.answer)), enc: null },
  ]),
);
const hitType = loadTypes().lookupType("fieldgate.v2.Hit");
const ctx = async (overrides = {}) => ({
  encKey: await privateKey(x25519JwkFromRaw(keys.x25519.investigator_enc.private_b64url)),
  nodeId: "kcso",
  nonce: NONCE,
  proof: PROOF,
  nodes,
  hitType,
  now: new Date(NOW * 1000),
  ...overrides,
});

function payload(overrides = {}) {
  return {
    v: 2,
    node: "kcso",
    nonce: NONCE,
    req: proofDigest(PROOF),
    iat: NOW,
    status: "answered",
    reason: "",
    hits: [{ record_id: "KC-1", score: 0.9 }],
    ...overrides,
  };
}

async function sealed(body, { nodeId = "kcso", nonce = NONCE } = {}) {
  return sealPadded(
    await publicKey(investigatorPub),
    Buffer.from(body),
    ANSWER_BUCKETS,
    answerInfo(nodeId),
    nonce,
  );
}

const answer = (claims, key = "kcso_answer") => sealed(sign(claims, signer(key), ANSWER_TYPE));

async function fails(sealedAnswer, reason, overrides) {
  await assert.rejects(openAnswer(await sealedAnswer, await ctx(overrides)), (error) => {
    assert.equal(error.reason, reason, error.message);
    return true;
  });
}

test("an honest answer opens to its hits", async () => {
  const opened = await openAnswer(await answer(payload()), await ctx());
  assert.deepEqual(opened, {
    status: "answered",
    reason: "",
    hits: [{ record_id: "KC-1", score: 0.9 }],
  });
});

test("no sealed answer, or one that does not open: unsealable", async () => {
  await fails(Promise.resolve({ enc: Buffer.alloc(0), ciphertext: Buffer.alloc(0) }), "unsealable");
  await fails(answer(payload()), "unsealable", { nodeId: "spd" }); // sealed as kcso's
  await fails(
    sealed(sign(payload(), signer("kcso_answer"), ANSWER_TYPE), { nonce: "f".repeat(32) }),
    "unsealable",
  );
});

test("padding that is not zero, or a body that is no JWS: malformed", async () => {
  const padded = pad(Buffer.from("x"), ANSWER_BUCKETS);
  padded[padded.length - 1] = 1;
  const { enc, ct } = await SUITE.seal(
    {
      recipientPublicKey: await publicKey(investigatorPub),
      info: new Uint8Array(answerInfo("kcso")),
    },
    new Uint8Array(padded),
    new Uint8Array(Buffer.from(NONCE)),
  );
  await fails(Promise.resolve({ enc: Buffer.from(enc), ciphertext: Buffer.from(ct) }), "malformed");
  await fails(sealed("not a jws at all"), "malformed");
});

test("signed by another key: signature; by a node the bundle does not know: unknown_node", async () => {
  await fails(answer(payload(), "spd_answer"), "signature");
  await fails(answer(payload(), "investigator"), "signature");
  await fails(answer(payload()), "unknown_node", { nodes: new Map() });
});

test("another node's, another search's, or an old answer: wrong_node, wrong_search, stale", async () => {
  await fails(answer(payload({ node: "spd" })), "wrong_node");
  await fails(answer(payload({ nonce: "f".repeat(32) })), "wrong_search");
  await fails(answer(payload({ req: proofDigest(`${PROOF}x`) })), "wrong_search");
  await fails(answer(payload({ iat: NOW - 600 })), "stale");
  await fails(answer(payload({ iat: NOW + 600 })), "stale");
  await fails(answer(payload({ iat: "now" })), "stale");
});

test("a wrong shape inside a good signature: malformed", async () => {
  await fails(answer(payload({ v: 1 })), "malformed");
  await fails(answer(payload({ status: "maybe" })), "malformed");
  await fails(answer(payload({ hits: "none" })), "malformed");
  await fails(answer(payload({ hits: [{ record_id: 7 }] })), "malformed");
  await fails(answer(payload({ hits: [{ ssn: "123-45-6789" }] })), "malformed");
  await fails(answer(payload({ status: "not_answering", reason: "trust_stale" })), "malformed");
});

test("not answering is its own outcome, never a 'no record'", async () => {
  const opened = await openAnswer(
    await answer(payload({ status: "not_answering", reason: "trust_stale", hits: [] })),
    await ctx(),
  );
  assert.deepEqual(opened, { status: "not_answering", reason: "trust_stale", hits: [] });
});
