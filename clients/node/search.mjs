#!/usr/bin/env node
// fieldgate-node-search: one addressed, sealed, signed search through a Fieldgate
// broker, every answer opened and verified; prints JSON. See README.md.
//
// Exit status, as `fieldgate search` (docs/protocol.md §8.3): 0 every agency asked
// answered and verified; 3 an agency failed verification; 4 an agency could not
// answer (and none failed); 1 the broker refused the search or could not be
// reached; 2 bad input (named on stderr).

import { parseArgs } from "node:util";

import { UsageError } from "./lib/files.mjs";
import { BrokerError, runSearch } from "./lib/run.mjs";

const EXIT_REFUSED = 1;
const EXIT_USAGE = 2;
const EXIT_FAILED_VERIFICATION = 3;
const EXIT_COULD_NOT_ANSWER = 4;

const USAGE = `usage: node search.mjs --broker HOST:PORT --credential FILE --key FILE --enc-key FILE
  --ca FILE --cert FILE --client-key FILE --trust-bundle FILE --authority FILE
  --purpose PURPOSE --case-number CASE
  [--surname S] [--given-name G] [--dob YYYY-MM-DD] [--identifier KIND:VALUE ...]
  [--max-hits N] [--warrant-token FILE ...] [--audience ID,ID] [--deadline SECONDS]
  [--max-bundle-age SECONDS] [--stream]`;

const REQUIRED = [
  "broker",
  "credential",
  "key",
  "enc-key",
  "ca",
  "cert",
  "client-key",
  "trust-bundle",
  "authority",
  "purpose",
  "case-number",
];

function parse(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      broker: { type: "string" },
      credential: { type: "string" },
      key: { type: "string" },
      "enc-key": { type: "string" },
      ca: { type: "string" },
      cert: { type: "string" },
      "client-key": { type: "string" },
      "trust-bundle": { type: "string" },
      authority: { type: "string" },
      surname: { type: "string", default: "" },
      "given-name": { type: "string", default: "" },
      dob: { type: "string", default: "" },
      identifier: { type: "string", multiple: true, default: [] },
      "max-hits": { type: "string", default: "0" },
      purpose: { type: "string" },
      "case-number": { type: "string" },
      "warrant-token": { type: "string", multiple: true, default: [] },
      audience: { type: "string" },
      deadline: { type: "string", default: "0" },
      "max-bundle-age": { type: "string", default: "86400" },
      stream: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const missing = REQUIRED.filter((name) => !values[name]);
  if (missing.length) throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(", ")}`);
  const number = (name, integer) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
      throw new UsageError(`--${name} ${values[name]}: not a ${integer ? "whole " : ""}number ≥ 0`);
    }
    return value;
  };
  const identifiers = values.identifier.map((text) => {
    const at = text.indexOf(":");
    if (at <= 0 || at === text.length - 1)
      throw new UsageError(`--identifier ${text}: expected KIND:VALUE`);
    return [text.slice(0, at), text.slice(at + 1)];
  });
  if (!values.surname && !identifiers.length) {
    throw new UsageError("give --surname (with --given-name or --dob) or an --identifier");
  }
  if (values.dob && !/^\d{4}-\d{2}-\d{2}$/.test(values.dob)) {
    throw new UsageError(`--dob ${values.dob}: expected YYYY-MM-DD`);
  }
  return {
    broker: values.broker,
    credential: values.credential,
    key: values.key,
    encKey: values["enc-key"],
    ca: values.ca,
    cert: values.cert,
    clientKey: values["client-key"],
    trustBundle: values["trust-bundle"],
    authority: values.authority,
    purpose: values.purpose,
    caseNumber: values["case-number"],
    query: {
      surname: values.surname,
      given_name: values["given-name"],
      dob: values.dob,
      identifiers,
      max_hits: number("max-hits", true),
    },
    warrantTokens: values["warrant-token"],
    audience: values.audience
      ? values.audience
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined,
    deadline: number("deadline", false),
    maxBundleAge: number("max-bundle-age", false),
    stream: values.stream,
  };
}

async function main() {
  let result;
  try {
    result = await runSearch(parse(process.argv.slice(2)));
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof BrokerError ||
      error?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ||
      error?.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" ||
      error?.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL"
    ) {
      process.stderr.write(`error: ${error.message}\n`);
      if (!(error instanceof BrokerError)) process.stderr.write(`${USAGE}\n`);
      return error instanceof BrokerError ? EXIT_REFUSED : EXIT_USAGE;
    }
    throw error;
  }
  // Every character outside ASCII escaped: the same JSON, but no byte of it (a
  // broker's agency name, a record's field) can act on the terminal it is shown in.
  const json = JSON.stringify(result, null, 2).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  process.stdout.write(`${json}\n`);
  if (result.counts.failed_verification) return EXIT_FAILED_VERIFICATION;
  if (result.counts.could_not_answer) return EXIT_COULD_NOT_ANSWER;
  return 0;
}

process.exitCode = await main();
