// Audiences and reaches (docs/protocol.md): which nodes a proof addresses, and
// which a credential's searches may reach. Either form names a set of nodes of
// the signed directory (the trust bundle's `nodes`):
//
//   list form     ["kcso", "spd"]                    exactly these node ids
//   compact form  {"dir": 41, "except": ["ice-ero"]} every node whose `since` ≤ 41,
//                                                    except these
//
// A node that is not in the directory is never in a compact set (its `since` is
// unknown): fail closed. One function, `contains`, answers for both forms, for
// the audience and the reach alike.

import { pyDumps } from "./pyjson.mjs";

/** A form that is not a list of node ids nor {"dir", "except"}; the message says why. */
export class AudienceError extends Error {}

const isIdList = (value) =>
  Array.isArray(value) &&
  value.every((id) => typeof id === "string" && id.length > 0) &&
  new Set(value).size === value.length;

/**
 * The parsed form of an `aud` or `reach` claim.
 * @param {unknown} value the claim as decoded JSON
 * @param {string} what its name, for the error
 * @returns {{ids: Set<string>} | {dir: number, except: Set<string>}}
 * @throws {AudienceError}
 */
export function parseAudience(value, what) {
  if (Array.isArray(value)) {
    if (!isIdList(value)) throw new AudienceError(`${what} is not a list of distinct node ids`);
    if (!value.length) throw new AudienceError(`${what} names no node`);
    return { ids: new Set(value) };
  }
  const keys = value !== null && typeof value === "object" ? Object.keys(value).sort() : [];
  if (keys.join() !== "dir,except") {
    throw new AudienceError(`${what} is neither a list of node ids nor {"dir", "except"}`);
  }
  if (!Number.isSafeInteger(value.dir) || value.dir < 0) {
    throw new AudienceError(`${what}.dir is not a directory serial (a whole number ≥ 0)`);
  }
  if (!isIdList(value.except)) {
    throw new AudienceError(`${what}.except is not a list of distinct node ids`);
  }
  return { dir: value.dir, except: new Set(value.except) };
}

/**
 * Whether a parsed audience or reach names `nodeId`.
 * @param {{ids: Set<string>} | {dir: number, except: Set<string>}} audience
 * @param {string} nodeId
 * @param {number | undefined} since the node's `since` in the directory; undefined
 *   when the directory does not list it
 */
export function contains(audience, nodeId, since) {
  if (audience.ids) return audience.ids.has(nodeId);
  return since !== undefined && since <= audience.dir && !audience.except.has(nodeId);
}

/**
 * The shorter encoding of `ids` as a proof's `aud`: the list, or — when strictly
 * shorter as written — {"dir": d, "except": [...]} with d the newest `since` among
 * `ids` (so nodes that joined later are not named) and `except` the other
 * directory nodes with since ≤ d, sorted. Ties keep the list.
 * @param {string[]} ids the audience, in order
 * @param {{nodes: Map<string, {since: number}>}} directory
 * @returns {string[] | {dir: number, except: string[]}}
 */
export function encodeAudience(ids, directory) {
  const list = [...ids];
  const joined = list.map((id) => directory.nodes.get(id)?.since);
  // An id the directory does not list can only be named by the list.
  if (!list.length || joined.some((since) => since === undefined)) return list;
  const dir = Math.max(...joined);
  const wanted = new Set(list);
  const except = [...directory.nodes]
    .filter(([id, node]) => node.since <= dir && !wanted.has(id))
    .map(([id]) => id)
    .sort();
  const compact = { dir, except };
  return pyDumps(compact).length < pyDumps(list).length ? compact : list;
}

/**
 * The nodes `audience` names that `reach` does not, evaluated over `directory`
 * (as the broker checks a proof; a list-form id the directory does not know is
 * checked by id), sorted.
 * @param {{serial: number, nodes: Map<string, {since: number}>}} directory
 * @throws {AudienceError} a compact form names a serial newer than the directory:
 *   which nodes it names cannot be known here (fail closed)
 */
export function beyond(audience, reach, directory) {
  for (const [claim, what] of [
    [audience, "audience"],
    [reach, "reach"],
  ]) {
    if (claim.dir !== undefined && claim.dir > directory.serial) {
      throw new AudienceError(
        `the ${what} names directory serial ${claim.dir}, newer than this trust bundle's ` +
          `(${directory.serial})`,
      );
    }
  }
  const since = (id) => directory.nodes.get(id)?.since;
  const named = [...directory.nodes.keys()].filter((id) => contains(audience, id, since(id)));
  if (audience.ids) named.push(...[...audience.ids].filter((id) => !directory.nodes.has(id)));
  return named.filter((id) => !contains(reach, id, since(id))).sort();
}

/**
 * A credential's grouped `unreached` claim ({"<reason>": [node ids]}) as node id → reason.
 * @throws {AudienceError}
 */
export function parseUnreached(value) {
  if (value === undefined) return new Map();
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new AudienceError("unreached is not an object of reason → node ids");
  }
  const why = new Map();
  for (const [reason, ids] of Object.entries(value)) {
    if (!isIdList(ids)) {
      throw new AudienceError("unreached is not an object of reason → node ids");
    }
    for (const id of ids) why.set(id, reason);
  }
  return why;
}
