#!/usr/bin/env node
// The client's sealing cost per addressed agency, against one bare HPKE seal of
// the same size with the same library (issue 15, item 9: target ≤ 2x).
// Usage: node tools/bench-seal.mjs [ROUNDS]   (prints one JSON line)

import crypto from "node:crypto";

import { QUERY_BUCKETS, SUITE, publicKey } from "../lib/sealing.mjs";
import { signSearch } from "../lib/search.mjs";

const rounds = Number(process.argv[2] ?? 200);
const AGENCIES = 8;
const raws = Array.from({ length: AGENCIES }, () =>
  crypto.generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }),
).map((jwk) => Buffer.from(jwk.x, "base64url"));
const nodeEnc = new Map(raws.map((raw, i) => [`node-${i}`, raw]));
const signingKey = crypto.generateKeyPairSync("ed25519").privateKey;
const credential = "eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJjMCIsInN1YiI6ImRldCJ9.c2ln";
const query = {
  surname: "HERNANDEZ",
  given_name: "MIGUEL",
  dob: "1986-03-07",
  identifiers: [],
  max_hits: 0,
};

async function timed(fn) {
  for (let i = 0; i < 20; i += 1) await fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i += 1) await fn();
  return Number(process.hrtime.bigint() - start) / rounds / 1000; // µs per call
}

const search = (n) => () =>
  signSearch({
    credential, signingKey, query, purpose: "criminal_investigation", caseNumber: "C-1",
    audience: [...nodeEnc.keys()].slice(0, n), nodeEnc,
  }); // prettier-ignore
const recipient = await publicKey(raws[0]);
const padded = new Uint8Array(QUERY_BUCKETS[0]);
const aad = new Uint8Array(Buffer.from("0".repeat(32)));
const bare = await timed(() =>
  SUITE.seal({ recipientPublicKey: recipient, info: aad }, padded, aad),
);
const one = await timed(search(1));
const all = await timed(search(AGENCIES));
const perAgency = (all - one) / (AGENCIES - 1);
process.stdout.write(
  `${JSON.stringify({
    rounds,
    bare_hpke_seal_4096_us: Math.round(bare),
    search_1_agency_us: Math.round(one),
    [`search_${AGENCIES}_agencies_us`]: Math.round(all),
    per_added_agency_us: Math.round(perAgency),
    ratio_to_bare: Number((perAgency / bare).toFixed(2)),
  })}\n`,
);
