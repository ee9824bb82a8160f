#!/usr/bin/env node
// Seal and sign one search with this implementation and print the SignedSearch
// as JSON (bytes as base64url), for cross-implementation checks: the Python
// suite opens what this prints (tests/interop/test_node_client.py).
//
// stdin: {"credential": "<JWT>", "key_pem": "<Ed25519 PKCS#8 PEM>",
//         "nodes": {"<node id>": "<b64url raw X25519 public key>"},
//         "audience": [...], "query": {...}, "purpose": "...", "case_number": "...",
//         "warrants": [...],
//         "directory": {"serial": 7, "since": {"<node id>": 3, ...}}}   (optional: the
//   proof's aud is then written compact when shorter; without it, a list)

import crypto from "node:crypto";

import { signSearch } from "../lib/search.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const built = await signSearch({
  credential: input.credential,
  signingKey: crypto.createPrivateKey(input.key_pem),
  query: input.query,
  purpose: input.purpose,
  caseNumber: input.case_number,
  audience: input.audience,
  nodeEnc: new Map(Object.entries(input.nodes).map(([id, x]) => [id, Buffer.from(x, "base64url")])),
  warrants: input.warrants ?? [],
  directory: input.directory && {
    serial: input.directory.serial,
    nodes: new Map(Object.entries(input.directory.since).map(([id, since]) => [id, { since }])),
  },
});
const b64 = (bytes) => Buffer.from(bytes).toString("base64url");
process.stdout.write(
  JSON.stringify({
    credential: built.signed.credential,
    proof: built.signed.proof,
    body: b64(built.signed.body),
    keys: built.signed.keys.map((k) => ({
      node_id: k.node_id,
      enc: b64(k.enc),
      wrapped: b64(k.wrapped),
    })),
  }),
);
