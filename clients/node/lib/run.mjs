// One search from the investigator's files to per-agency results: load and
// cross-check the files, choose the audience, seal and sign, call the broker over
// mutual TLS, then open and verify every answer.

import grpc from "@grpc/grpc-js";

import { AnswerVerificationError, NOT_ANSWERING, openAnswer } from "./answers.mjs";
import { AudienceError, contains, parseAudience, parseUnreached } from "./audience.mjs";
import {
  UsageError,
  loadAuthorityKey,
  loadEncKey,
  loadSigningKey,
  publicJwk,
  readText,
} from "./files.mjs";
import { decodeUnverified } from "./jws.mjs";
import { PROTO_DIR, loadTypes, loadV2 } from "./proto.mjs";
import { SealingError, privateKey } from "./sealing.mjs";
import { signSearch } from "./search.mjs";
import { loadTrustBundle } from "./trust.mjs";

/** `text` with control characters shown as escapes: a broker's words never drive a terminal. */
export const inert = (text) =>
  String(text).replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );

/** The broker refused the search or could not be reached. */
export class BrokerError extends Error {
  constructor(code, details) {
    super(`the broker refused the search: ${code}: ${inert(details)}`);
    this.code = code;
    this.details = details;
  }
}

/** The output's schema: its shape only ever grows (pinned by tests/interop). */
export const SCHEMA = "fieldgate.node-search/v1";

/** The longest deadline a broker grants (0 asks for its default, at most this). */
const BROKER_MAX_DEADLINE_SECONDS = 10;
/** Most agencies a broker answers in one unary Search; larger searches are streamed. */
const UNARY_AUDIENCE = 64;
/** Largest unary answer: every agency's sealed answer at its cap (2 MiB bucket + framing). */
const MAX_BROKER_ANSWER_BYTES = UNARY_AUDIENCE * (2 * 1024 * 1024 + 72 * 1024) + 64 * 1024;
/** ListNodes pages followed at most (1000 nodes each: beyond any federation's directory). */
const MAX_LIST_PAGES = 100;
/** Warrants a search may carry, and the longest one (docs/protocol.md 5.2). */
const MAX_WARRANTS = 8;
const MAX_WARRANT_CHARS = 16384;
/** Tolerated difference between a node's clock and ours. */
const SKEW_SECONDS = 60;

const BROKER_STATUS = {
  NODE_STATUS_TIMED_OUT: "timed_out",
  NODE_STATUS_UNREACHABLE: "unreachable",
  NODE_STATUS_ERROR: "error",
};

function readCredential(path) {
  const credential = readText(path, "--credential").trim();
  try {
    return { credential, claims: decodeUnverified(credential).claims };
  } catch (error) {
    throw new UsageError(`--credential ${path}: not a compact JWT (${error.message})`);
  }
}

/**
 * Which agencies this search is for, and which are not asked and why.
 * Default: every node of the signed directory that publishes an encryption key,
 * within the credential's `reach` when it has one, that the broker routes to
 * (its ListNodes: a broker can only narrow a search that way, which it could
 * anyway by not forwarding). An explicit `requested` audience is sent as it is.
 * @param {Map<string, {enc: Buffer | null, since: number}>} nodes the signed directory
 * @param {{reach?: object, unreached: Map<string, string>}} limits the credential's
 *   parsed `reach` (undefined: no constraint) and why the issuer left nodes out
 */
export function chooseAudience(nodes, limits, requested, routed) {
  const notAsked = [];
  const { reach, unreached } = limits;
  const reachable = (id) => reach === undefined || contains(reach, id, nodes.get(id)?.since);
  if (requested) {
    for (const id of requested) {
      if (!nodes.has(id))
        throw new UsageError(`--audience: ${id} is not a node of the trust bundle`);
      if (!nodes.get(id).enc) throw new UsageError(`--audience: ${id} publishes no encryption key`);
    }
    const outside = requested.filter((id) => !reachable(id));
    if (outside.length) {
      throw new UsageError(`--audience: outside the credential's reach: ${outside.join(", ")}`);
    }
    const wanted = new Set(requested);
    for (const id of nodes.keys()) {
      if (!wanted.has(id)) notAsked.push({ node_id: id, reason: "not_in_audience" });
    }
    return { audience: [...requested], notAsked };
  }
  const audience = [];
  for (const [id, keys] of nodes) {
    if (!reachable(id)) {
      const why = unreached.get(id);
      notAsked.push({ node_id: id, reason: "outside_reach", ...(why ? { why } : {}) });
    } else if (!routed.has(id)) notAsked.push({ node_id: id, reason: "not_routed_by_broker" });
    else if (!keys.enc) notAsked.push({ node_id: id, reason: "no_encryption_key" });
    else audience.push(id);
  }
  if (!audience.length) throw new UsageError("no agency may be asked: the audience is empty");
  return { audience, notAsked };
}

/** Load every file and check they belong together; a UsageError names what does not. */
export async function loadSetup(opts) {
  const authority = loadAuthorityKey(opts.authority);
  const trust = loadTrustBundle(opts.trustBundle, authority, { maxAgeSeconds: opts.maxBundleAge });
  const { credential, claims } = readCredential(opts.credential);
  const signingKey = loadSigningKey(opts.key);
  if (claims.cnf?.jwk?.x !== publicJwk(signingKey).x) {
    throw new UsageError(`--key ${opts.key}: not the key the credential is bound to (cnf)`);
  }
  const encJwk = loadEncKey(opts.encKey);
  if (!claims.enc) {
    throw new UsageError(
      `--credential ${opts.credential}: names no encryption key (enc); answers cannot be sealed to you`,
    );
  }
  if (claims.enc.x !== encJwk.x || claims.enc.crv !== "X25519") {
    throw new UsageError(`--enc-key ${opts.encKey}: not the key the credential names (enc)`);
  }
  let limits;
  try {
    limits = {
      reach: claims.reach === undefined ? undefined : parseAudience(claims.reach, "reach"),
      unreached: parseUnreached(claims.unreached),
    };
  } catch (error) {
    if (!(error instanceof AudienceError)) throw error;
    throw new UsageError(`--credential ${opts.credential}: ${error.message}`);
  }
  const warrants = (opts.warrantTokens ?? []).map((p) => readText(p, "--warrant-token").trim());
  // A node refuses more, or longer, warrants — silently, as for an absent person
  // (docs/protocol.md 5.2) — so they are refused here, where the reason can be said.
  if (warrants.length > MAX_WARRANTS) {
    throw new UsageError(`--warrant-token: at most ${MAX_WARRANTS} warrants per search`);
  }
  opts.warrantTokens?.forEach((path, i) => {
    if (warrants[i].length > MAX_WARRANT_CHARS) {
      throw new UsageError(`--warrant-token ${path}: longer than ${MAX_WARRANT_CHARS} characters`);
    }
  });
  const tls = {
    ca: Buffer.from(readText(opts.ca, "--ca")),
    cert: Buffer.from(readText(opts.cert, "--cert")),
    key: Buffer.from(readText(opts.clientKey, "--client-key")),
  };
  return {
    trust,
    credential,
    claims,
    signingKey,
    encKey: await privateKey(encJwk),
    limits,
    warrants,
    tls,
  };
}

const brokerError = (error) =>
  new BrokerError(grpc.status[error.code] ?? String(error.code), error.details);

/** Call `method` of the broker; a gRPC failure becomes a BrokerError naming its status. */
function call(client, method, request, timeoutSeconds) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutSeconds * 1000 }, (error, response) => {
      if (error) reject(brokerError(error));
      else resolve(response);
    });
  });
}

/** Every node id the broker routes to, read a page (at most 1,000 nodes) at a time. */
async function listNodes(client) {
  const ids = new Set();
  let token = "";
  for (let pages = 1; ; pages++) {
    const page = await call(client, "ListNodes", { page_size: 1000, page_token: token }, 10);
    for (const node of page.nodes) ids.add(node.node_id);
    token = page.next_page_token ?? "";
    if (!token) return ids;
    if (page.nodes.length === 0 || pages >= MAX_LIST_PAGES) {
      const why = `the broker's node list does not end after ${pages} pages`;
      throw new BrokerError("OUT_OF_RANGE", why);
    }
  }
}

/**
 * The search as a stream (SearchStream): each agency's result as it ends. Resolves
 * to what the unary Search would answer: {request_id, results}.
 */
function streamSearch(client, request, timeoutSeconds) {
  return new Promise((resolve, reject) => {
    const stream = client.SearchStream(
      { search: request },
      { deadline: Date.now() + timeoutSeconds * 1000 },
    );
    const response = { request_id: "", results: [] };
    stream.on("data", (event) => {
      if (event.started) response.request_id ||= event.started.request_id;
      else if (event.agency) response.results.push(event.agency);
      else if (event.summary) response.request_id ||= event.summary.request_id;
    });
    stream.on("error", (error) => reject(brokerError(error)));
    stream.on("end", () => resolve(response));
  });
}

/**
 * Run one search; resolves to the JSON-ready result.
 * @param {object} opts parsed command line (see search.mjs)
 */
export async function runSearch(opts) {
  const setup = await loadSetup(opts);
  let v2;
  try {
    v2 = loadV2();
  } catch (error) {
    throw new UsageError(
      `cannot load the .proto files from ${PROTO_DIR} (set FIELDGATE_PROTO_DIR): ${error.message}`,
    );
  }
  const creds = grpc.credentials.createSsl(setup.tls.ca, setup.tls.key, setup.tls.cert);
  const client = new v2.BrokerService(opts.broker, creds, {
    "grpc.max_receive_message_length": MAX_BROKER_ANSWER_BYTES,
  });
  try {
    return await search(opts, setup, client);
  } finally {
    client.close();
  }
}

async function search(opts, setup, client) {
  let routed = new Set();
  if (!opts.audience) routed = await listNodes(client);
  const { audience, notAsked } = chooseAudience(
    setup.trust.nodes,
    setup.limits,
    opts.audience,
    routed,
  );
  const nodeEnc = new Map([...setup.trust.nodes].map(([id, k]) => [id, k.enc]));
  let built;
  try {
    built = await signSearch({
      credential: setup.credential,
      signingKey: setup.signingKey,
      query: opts.query,
      purpose: opts.purpose,
      caseNumber: opts.caseNumber,
      audience,
      nodeEnc,
      directory: setup.trust,
      warrants: setup.warrants,
    });
  } catch (error) {
    if (error instanceof SealingError) {
      throw new UsageError(`the query and warrants are too large to seal (${error.message})`);
    }
    if (error instanceof AudienceError) throw new UsageError(error.message);
    throw error;
  }
  const request = { signed: built.signed, deadline_seconds: opts.deadline };
  const timeout = (opts.deadline || BROKER_MAX_DEADLINE_SECONDS) + 10;
  const streamed = opts.stream || audience.length > UNARY_AUDIENCE;
  const response = streamed
    ? await streamSearch(client, request, timeout)
    : await call(client, "Search", request, timeout);
  const hitType = loadTypes().lookupType("fieldgate.v2.Hit");
  const seen = new Map();
  const unexpected = [];
  const asked = new Set(audience);
  for (const result of response.results) {
    if (!asked.has(result.node_id)) unexpected.push(result.node_id);
    else if (seen.has(result.node_id)) seen.set(result.node_id, { duplicate: true });
    else seen.set(result.node_id, result);
  }
  const agencies = [];
  for (const nodeId of audience) {
    const result = seen.get(nodeId);
    const entry = { node_id: nodeId, agency_name: result?.agency_name ?? "" };
    if (!result) {
      agencies.push({
        ...entry,
        status: "failed_verification",
        reason: "missing",
        detail: "the broker relayed no answer",
      });
      continue;
    }
    if (result.duplicate) {
      agencies.push({
        ...entry,
        status: "failed_verification",
        reason: "malformed",
        detail: "the broker relayed two answers",
      });
      continue;
    }
    if (result.status !== "NODE_STATUS_ANSWERED") {
      const reason = BROKER_STATUS[result.status] ?? "error";
      agencies.push({ ...entry, status: "could_not_answer", reason, detail: result.detail ?? "" });
      continue;
    }
    try {
      if (result.hits?.length) {
        // Field 15 is for development brokers without a trust bundle; beside a
        // sealed search it can only be a broker's own words.
        throw new AnswerVerificationError("malformed", "clear hits beside a sealed search");
      }
      const verified = await openAnswer(result.answer, {
        encKey: setup.encKey,
        nodeId,
        nonce: built.nonce,
        proof: built.proof,
        nodes: setup.trust.nodes,
        hitType,
        now: new Date(),
        // The oldest answer this search can have: its deadline plus clock skew both ways.
        maxAgeSeconds: (opts.deadline || BROKER_MAX_DEADLINE_SECONDS) + 2 * SKEW_SECONDS,
        skewSeconds: SKEW_SECONDS,
      });
      if (verified.status === NOT_ANSWERING) {
        agencies.push({
          ...entry,
          status: "could_not_answer",
          reason: verified.reason,
          detail: "",
        });
      } else {
        agencies.push({ ...entry, status: "answered", hits: verified.hits });
      }
    } catch (error) {
      if (!(error instanceof AnswerVerificationError)) throw error;
      agencies.push({
        ...entry,
        status: "failed_verification",
        reason: error.reason,
        detail: error.message,
      });
    }
  }
  const count = (status) => agencies.filter((a) => a.status === status).length;
  const failedByReason = {};
  for (const a of agencies.filter((x) => x.status === "failed_verification")) {
    failedByReason[a.reason] = (failedByReason[a.reason] ?? 0) + 1;
  }
  return {
    schema: SCHEMA,
    request_id: response.request_id,
    audience,
    streamed,
    // How the proof wrote it: "list", or "compact" ({"dir", "except"}) when shorter.
    audience_form: Array.isArray(built.aud) ? "list" : "compact",
    not_asked: notAsked,
    unexpected,
    agencies,
    counts: {
      answered: count("answered"),
      failed_verification: count("failed_verification"),
      could_not_answer: count("could_not_answer"),
      hits: agencies.reduce((n, a) => n + (a.hits?.length ?? 0), 0),
      failed_by_reason: failedByReason,
    },
  };
}
