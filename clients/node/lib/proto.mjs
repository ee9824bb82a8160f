// The v2 protocol's services, loaded at run time from the repository's .proto
// files (proto/fieldgate/v2) by @grpc/proto-loader — no generated code.

import path from "node:path";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

/** The repository's proto/ directory (override with FIELDGATE_PROTO_DIR). */
export const PROTO_DIR =
  process.env.FIELDGATE_PROTO_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../proto");

const FILES = ["fieldgate/v2/broker.proto", "fieldgate/v2/node.proto", "fieldgate/v2/common.proto"];

/** The fieldgate.v2 package as grpc-js service constructors and message types. */
export function loadV2() {
  const definition = protoLoader.loadSync(FILES, {
    includeDirs: [PROTO_DIR],
    keepCase: true, // field names as in the .proto (node_id, not nodeId)
    longs: String,
    enums: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).fieldgate.v2;
}

/** The message types (protobufjs reflection), for checking hits in the proto3 JSON mapping. */
export function loadTypes() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith("google/protobuf/") ? target : path.join(PROTO_DIR, target);
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  return root;
}
