// Opening and verifying one agency's sealed answer (docs/protocol.md, "Client
// verification"). Anything that fails is "failed verification" for that agency
// with a reason from ANSWER_REASONS — never data, never "no record".

import crypto from "node:crypto";

import { checkMessage } from "./hits.mjs";
import { ANSWER_TYPE, JwsError, b64url, decodeUnverified, verify } from "./jws.mjs";
import { ANSWER_BUCKETS, SealingError, answerInfo, openPadded } from "./sealing.mjs";

export const ANSWERED = "answered";
export const NOT_ANSWERING = "not_answering";

/** Every reason an answer can fail verification (bounded, for counters). */
export const ANSWER_REASONS = Object.freeze([
  "unsealable",
  "malformed",
  "unknown_node",
  "signature",
  "wrong_node",
  "wrong_search",
  "stale",
]);

export class AnswerVerificationError extends Error {
  constructor(reason, message) {
    super(`${reason}: ${message}`);
    this.reason = reason;
  }
}

/** The answer's `req` claim: b64url SHA-256 of the proof JWS's ASCII bytes. */
export const proofDigest = (proof) =>
  b64url(crypto.createHash("sha256").update(proof, "ascii").digest());

/**
 * Open and check one relayed answer.
 * @param {{enc: Buffer, ciphertext: Buffer} | null} sealed the SealedAnswer as relayed
 * @param {object} ctx {encKey (HPKE private key), nodeId, nonce, proof, nodes (trust bundle),
 *   hitType (protobufjs Type), now (Date), skewSeconds, maxAgeSeconds}
 * @returns {Promise<{status: string, reason: string, hits: object[]}>}
 * @throws {AnswerVerificationError}
 */
export async function openAnswer(sealed, ctx) {
  const { encKey, nodeId, nonce, proof, nodes, hitType, now } = ctx;
  const skew = ctx.skewSeconds ?? 60;
  const maxAge = ctx.maxAgeSeconds ?? 120;
  if (!sealed || !sealed.enc?.length || !sealed.ciphertext?.length) {
    throw new AnswerVerificationError("unsealable", `${nodeId} sent no sealed answer`);
  }
  let body;
  try {
    body = await openPadded(
      encKey,
      sealed.enc,
      sealed.ciphertext,
      ANSWER_BUCKETS,
      answerInfo(nodeId),
      nonce,
    );
  } catch (error) {
    if (!(error instanceof SealingError)) throw error;
    throw new AnswerVerificationError(
      error.reason === "unsealable" ? "unsealable" : "malformed",
      error.message,
    );
  }
  const node = nodes.get(nodeId);
  if (!node) {
    throw new AnswerVerificationError(
      "unknown_node",
      `no answer key for ${JSON.stringify(nodeId)}`,
    );
  }
  const token = body.toString("latin1");
  if (!/^[\x21-\x7e]*$/.test(token)) {
    throw new AnswerVerificationError("malformed", "the answer is not a compact JWS");
  }
  let claims;
  try {
    decodeUnverified(token);
    claims = verify(token, node.answerKey, ANSWER_TYPE);
  } catch (error) {
    if (!(error instanceof JwsError)) throw error;
    const reason = error.reason === "signature" ? "signature" : "malformed";
    throw new AnswerVerificationError(
      reason,
      reason === "signature" ? `not signed by ${nodeId}'s key` : error.message,
    );
  }
  if (claims.v !== 2) {
    throw new AnswerVerificationError("malformed", "not a version 2 answer");
  }
  if (claims.node !== nodeId) {
    throw new AnswerVerificationError("wrong_node", `answer of ${JSON.stringify(claims.node)}`);
  }
  if (claims.nonce !== nonce || claims.req !== proofDigest(proof)) {
    throw new AnswerVerificationError("wrong_search", "answer to another search");
  }
  const iat = claims.iat;
  const age = typeof iat === "number" ? now.getTime() / 1000 - iat : NaN;
  if (!(age <= maxAge && age >= -skew)) {
    throw new AnswerVerificationError("stale", `answer time ${iat} is not this search's`);
  }
  const status = claims.status;
  const reason = claims.reason ?? "";
  if (![ANSWERED, NOT_ANSWERING].includes(status) || typeof reason !== "string") {
    throw new AnswerVerificationError("malformed", `status ${JSON.stringify(status)} is not known`);
  }
  const hits = claims.hits;
  if (!Array.isArray(hits)) {
    throw new AnswerVerificationError("malformed", "hits is not a list");
  }
  hits.forEach((hit, i) => {
    try {
      checkMessage(hitType, hit, `hits[${i}]`);
    } catch (error) {
      throw new AnswerVerificationError("malformed", `a hit does not parse (${error.message})`);
    }
  });
  if (status === NOT_ANSWERING && hits.length) {
    throw new AnswerVerificationError("malformed", "a node not answering sent hits");
  }
  return { status, reason: reason.slice(0, 64), hits };
}
