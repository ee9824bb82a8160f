#!/usr/bin/env node
// The client's sealing cost per addressed agency, against one bare HPKE seal of
// the same 32-byte content key with the same library (issue 15 item 9, target
// ≤ 2x; issue 22: one wrapped key per agency, the body sealed once).
// Usage: node tools/bench-seal.mjs [ROUNDS] [AGENCIES]   (prints one JSON line)

import crypto from "node:crypto";

import { loadTypes } from "../lib/proto.mjs";
import { SUITE, publicKey, queryKeyInfo } from "../lib/sealing.mjs";
import { signSearch } from "../lib/search.mjs";

const rounds = Number(process.argv[2] ?? 200);
const agencies = Number(process.argv[3] ?? 8);
const raws = Array.from({ length: agencies }, () =>
  crypto.generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }),
).map((jwk) => Buffer.from(jwk.x, "base64url"));
const nodeEnc = new Map(raws.map((raw, i) => [`node-${i}`, raw]));
// A directory where every node joined at serial 1: a whole-directory audience is compact.
const directory = {
  serial: 1,
  nodes: new Map([...nodeEnc.keys()].map((id) => [id, { since: 1 }])),
};
const signingKey = crypto.generateKeyPairSync("ed25519").privateKey;
const credential = "eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJjMCIsInN1YiI6ImRldCJ9.c2ln";
const query = {
  surname: "HERNANDEZ",
  given_name: "MIGUEL",
  dob: "1986-03-07",
  identifiers: [],
  max_hits: 0,
};

/** µs per call: [wall, CPU of this process] (CPU is steadier on a loaded machine). */
async function timed(fn, times) {
  for (let i = 0; i < Math.min(20, times); i += 1) await fn(); // warm-up
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let i = 0; i < times; i += 1) await fn();
  const used = process.cpuUsage(cpu);
  return [Number(process.hrtime.bigint() - start) / 1000, used.user + used.system].map(
    (us) => us / times,
  );
}

const search = (n) => () =>
  signSearch({
    credential, signingKey, query, purpose: "criminal_investigation", caseNumber: "C-1",
    audience: [...nodeEnc.keys()].slice(0, n), nodeEnc, directory,
  }); // prettier-ignore
const recipient = await publicKey(raws[0]);
const key = new Uint8Array(32);
const aad = new Uint8Array(Buffer.from("0".repeat(32)));
const bare = await timed(
  () => SUITE.seal({ recipientPublicKey: recipient, info: queryKeyInfo("node-0") }, key, aad),
  rounds,
);
const one = await timed(search(1), rounds);
// Fewer rounds of the large search: its cost is agencies × the small one's.
const manyRounds = Math.max(3, Math.round((rounds * 8) / agencies));
const all = await timed(search(agencies), manyRounds);
// What the wire carries for the large search: the SignedSearch as protobuf bytes.
const built = await search(agencies)();
const signedType = loadTypes().lookupType("fieldgate.v2.SignedSearch");
const requestBytes = signedType.encode(signedType.fromObject(built.signed)).finish().length;
const perAgency = all.map((total, i) => (total - one[i]) / (agencies - 1));
const round = (pair) => pair.map(Math.round);
process.stdout.write(
  `${JSON.stringify({
    rounds,
    agencies,
    // Each figure is [wall µs, CPU µs].
    bare_hpke_seal_32_us: round(bare),
    search_1_agency_us: round(one),
    [`search_${agencies}_agencies_us`]: round(all),
    per_added_agency_us: round(perAgency),
    ratio_to_bare: perAgency.map((x, i) => Number((x / bare[i]).toFixed(2))),
    [`signed_search_bytes_${agencies}_agencies`]: requestBytes,
    body_bytes: built.signed.body.length,
    proof_chars: built.proof.length,
    // Beyond the body, credential and proof: the QueryKeys.
    bytes_per_agency: Number(
      ((requestBytes - built.signed.body.length - built.proof.length) / agencies).toFixed(1),
    ),
  })}\n`,
);
