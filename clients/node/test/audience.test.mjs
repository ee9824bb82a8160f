// Audiences and reaches in both forms (lib/audience.mjs), and the sealed body
// with one wrapped key per node (lib/sealing.mjs) — this implementation's own
// round trips; the vectors (vectors.test.mjs) fix the bytes against Python's.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { test } from "node:test";

import {
  AudienceError,
  contains,
  encodeAudience,
  parseAudience,
  parseUnreached,
} from "../lib/audience.mjs";
import { pyDumps } from "../lib/pyjson.mjs";
import { MAX_PROOF_CHARS, signSearch } from "../lib/search.mjs";
import {
  SealingError,
  contentKey,
  openBody,
  privateKey,
  publicKey,
  sealBody,
  unwrapKey,
  wrapKey,
} from "../lib/sealing.mjs";

// A directory at serial 9: a..c joined at 1, d before serials (0), e at 5, late at 9.
const directory = {
  nodes: new Map([
    ["a", { since: 1 }],
    ["b", { since: 1 }],
    ["c", { since: 1 }],
    ["d", { since: 0 }],
    ["e", { since: 5 }],
    ["late", { since: 9 }],
  ]),
};
const since = (id) => directory.nodes.get(id)?.since;

test("a list names exactly its ids; a compact form every node up to dir except some", () => {
  const list = parseAudience(["a", "zz"], "aud");
  assert.deepEqual(
    ["a", "b", "zz"].map((id) => contains(list, id, since(id))),
    [true, false, true],
  );
  const compact = parseAudience({ dir: 5, except: ["b"] }, "aud");
  const named = [...directory.nodes.keys(), "stranger"].filter((id) =>
    contains(compact, id, since(id)),
  );
  // `late` joined after serial 5; `stranger` is in no directory: never named (fail closed).
  assert.deepEqual(named, ["a", "c", "d", "e"]);
});

test("malformed audiences and reaches are refused, naming what is wrong", () => {
  const refused = [
    [[], "names no node"],
    [["a", "a"], "distinct"],
    [["a", 3], "distinct"],
    [{ dir: -1, except: [] }, "serial"],
    [{ dir: 2.5, except: [] }, "serial"],
    [{ dir: 3 }, "neither"],
    [{ dir: 3, except: ["a"], extra: 1 }, "neither"],
    [{ dir: 3, except: "a" }, "except"],
    ["a", "neither"],
    [null, "neither"],
  ];
  for (const [value, why] of refused) {
    assert.throws(
      () => parseAudience(value, "reach"),
      (error) => error instanceof AudienceError && error.message.includes(why),
      JSON.stringify(value),
    );
  }
});

test("the client writes whichever form is shorter, and both name the same nodes", () => {
  // Two of six: the list is shorter.
  assert.deepEqual(encodeAudience(["a", "b"], directory), ["a", "b"]);
  // Five of six with longer ids: the compact form is shorter. Its dir is the newest
  // member's since (5), so `late` (joined at 9) is not named and needs no except.
  const longer = {
    nodes: new Map([...directory.nodes].map(([id, n]) => [id === "late" ? id : `agency-${id}`, n])),
  };
  const five = ["agency-a", "agency-b", "agency-c", "agency-d", "agency-e"];
  const compact = encodeAudience(five, longer);
  assert.deepEqual(compact, { dir: 5, except: [] });
  assert.ok(pyDumps(compact).length < pyDumps(five).length);
  const named = (claim, dir) => {
    const parsed = parseAudience(claim, "aud");
    return [...dir.nodes].filter(([id, n]) => contains(parsed, id, n.since)).map(([id]) => id);
  };
  assert.deepEqual(named(compact, longer), five);
  // Four of them: the one left out goes to except.
  const four = five.filter((id) => id !== "agency-b");
  assert.deepEqual(encodeAudience(four, longer), { dir: 5, except: ["agency-b"] });
  assert.deepEqual(named(encodeAudience(four, longer), longer), four);
  // The same five with the short ids: the list is shorter.
  assert.deepEqual(encodeAudience(["a", "b", "c", "d", "e"], directory), ["a", "b", "c", "d", "e"]);
  // An id the directory does not list: the list only.
  const withStranger = [...five, "stranger"];
  assert.deepEqual(encodeAudience(withStranger, longer), withStranger);
  // A tie keeps the list: ["kcso","spd","pcso"] and {"dir":1,"except":[]} are both 21 bytes.
  const three = ["kcso", "spd", "pcso"];
  const small = { nodes: new Map(three.map((id) => [id, { since: 1 }])) };
  assert.equal(pyDumps(three).length, pyDumps({ dir: 1, except: [] }).length);
  assert.deepEqual(encodeAudience(three, small), three);
});

test("grouped unreached reads as node id → reason; other shapes are refused", () => {
  const why = parseUnreached({ "civil immigration agency": ["ice-ero", "ice-hsi"], other: ["x"] });
  assert.equal(why.get("ice-hsi"), "civil immigration agency");
  assert.equal(why.get("x"), "other");
  assert.equal(parseUnreached(undefined).size, 0);
  for (const bad of [["ice-ero"], { "ice-ero": "civil" }, { r: [1] }, null]) {
    assert.throws(() => parseUnreached(bad), AudienceError, JSON.stringify(bad));
  }
});

async function nodeKeys() {
  const pair = crypto.generateKeyPairSync("x25519");
  const raw = Buffer.from(pair.publicKey.export({ format: "jwk" }).x, "base64url");
  return {
    pub: await publicKey(raw),
    priv: await privateKey(pair.privateKey.export({ format: "jwk" })),
  };
}

test("one body, a key per node: each node unwraps its key, no other node's", async () => {
  const nonce = "0123456789abcdef0123456789abcdef";
  const key = contentKey();
  const plaintext = Buffer.from('{"v":2,"query":{"surname":"HERNÁNDEZ"}}', "utf8");
  const body = sealBody(key, plaintext, nonce);
  assert.equal(body.length, 4096 + 16);
  assert.deepEqual(openBody(key, body, nonce), plaintext);
  const kcso = await nodeKeys();
  const spd = await nodeKeys();
  const wrapped = await wrapKey(kcso.pub, key, "kcso", nonce);
  assert.equal(wrapped.enc.length, 32);
  assert.equal(wrapped.wrapped.length, 48);
  assert.deepEqual(await unwrapKey(kcso.priv, wrapped.enc, wrapped.wrapped, "kcso", nonce), key);
  const unsealable = (error) => error instanceof SealingError && error.reason === "unsealable";
  // Another node's key, another node's info, another search's nonce: nothing opens.
  await assert.rejects(
    unwrapKey(spd.priv, wrapped.enc, wrapped.wrapped, "kcso", nonce),
    unsealable,
  );
  await assert.rejects(
    unwrapKey(kcso.priv, wrapped.enc, wrapped.wrapped, "spd", nonce),
    unsealable,
  );
  const other = "f".repeat(32);
  await assert.rejects(
    unwrapKey(kcso.priv, wrapped.enc, wrapped.wrapped, "kcso", other),
    unsealable,
  );
  // The body is bound to its search and its key; one flipped byte and it does not open.
  assert.throws(() => openBody(key, body, other), unsealable);
  assert.throws(() => openBody(contentKey(), body, nonce), unsealable);
  const flipped = Buffer.from(body);
  flipped[7] ^= 1;
  assert.throws(() => openBody(key, flipped, nonce), unsealable);
  assert.throws(
    () => openBody(key, body.subarray(1), nonce),
    (error) => error.reason === "malformed",
  );
});

test("a national directory: 8,500 agencies, 300 left out, fit a proof as a few KiB", () => {
  const ids = Array.from({ length: 8500 }, (_, i) => `agency-${String(i).padStart(4, "0")}`);
  // Joined over 40 edits of the directory.
  const national = { nodes: new Map(ids.map((id, i) => [id, { since: 1 + (i % 40) }])) };
  const left = new Set(ids.filter((_, i) => i % 28 === 5).slice(0, 300));
  const audience = ids.filter((id) => !left.has(id));
  const claim = encodeAudience(audience, national);
  assert.deepEqual(claim, { dir: 40, except: [...left].sort() });
  // The list would be about 120 KB, far over a 16 KiB proof; the compact form is 4 KB.
  assert.ok(pyDumps(audience).length > 100_000);
  assert.ok(pyDumps(claim).length < 4_400, `${pyDumps(claim).length}`); // 300 × 14 + 21
  const parsed = parseAudience(claim, "aud");
  assert.deepEqual(
    ids.filter((id) => contains(parsed, id, national.nodes.get(id).since)),
    audience,
  );
});

test("an audience too long for a proof is refused before any key is wrapped", async () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `agency-${i}`);
  const raw = Buffer.from(
    crypto.generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x,
    "base64url",
  );
  const args = {
    credential: "eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJjMCIsInN1YiI6ImRldCJ9.c2ln",
    signingKey: crypto.generateKeyPairSync("ed25519").privateKey,
    query: { surname: "DOE", given_name: "", dob: "", identifiers: [], max_hits: 0 },
    purpose: "criminal_investigation",
    caseNumber: "C-1",
    audience: ids,
    nodeEnc: new Map(ids.map((id) => [id, raw])),
  };
  // Without a directory the list must be written: about 26 KB, over the 16 KiB cap.
  await assert.rejects(signSearch(args), (error) => {
    return error instanceof AudienceError && /over 16384.*2000 agencies/.test(error.message);
  });
  // Over a directory where they all joined together it is compact, and fits.
  const directory = { nodes: new Map(ids.map((id) => [id, { since: 3 }])) };
  const one = { ...args, audience: ids.slice(0, 1), directory };
  assert.ok((await signSearch(one)).proof.length < MAX_PROOF_CHARS);
  assert.deepEqual(encodeAudience(ids, directory), { dir: 3, except: [] });
});
