// Hits as an answer carries them: the proto3 canonical JSON mapping of
// fieldgate.v2.Hit with the .proto field names. Checked against the message
// type loaded from proto/ (not a hand-kept list), so a new field is accepted as
// soon as it is in the .proto file, and anything else is "malformed".

import { isObject } from "./jws.mjs";

const STRINGS = new Set(["string"]);
const NUMBERS = new Set(["double", "float"]);
const INTEGERS = new Set(["int32", "uint32", "sint32", "fixed32", "sfixed32"]);
const LONGS = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

function scalarOk(type, value) {
  if (STRINGS.has(type) || type === "bytes") return typeof value === "string";
  if (type === "bool") return typeof value === "boolean";
  if (NUMBERS.has(type))
    return typeof value === "number" || ["NaN", "Infinity", "-Infinity"].includes(value);
  if (INTEGERS.has(type))
    return Number.isInteger(value) || (typeof value === "string" && /^-?\d+$/.test(value));
  if (LONGS.has(type))
    return Number.isSafeInteger(value) || (typeof value === "string" && /^-?\d+$/.test(value));
  return false;
}

function checkValue(field, value, where) {
  if (value === null) return; // proto3 JSON: null is the field's default
  const resolved = field.resolvedType;
  if (resolved && resolved.fullName === ".google.protobuf.Value") return; // any JSON value
  if (resolved && resolved.values !== undefined) {
    // an enum: its name or its number
    if (!(typeof value === "string" && value in resolved.values) && !Number.isInteger(value)) {
      throw new Error(`${where}: not a ${resolved.name}`);
    }
    return;
  }
  if (resolved) {
    checkMessage(resolved, value, where);
    return;
  }
  if (!scalarOk(field.type, value)) {
    throw new Error(`${where}: not a ${field.type}`);
  }
}

/** Throw an Error naming the first place `value` is not `type` in proto3 JSON. */
export function checkMessage(type, value, where = type.name) {
  if (!isObject(value)) {
    throw new Error(`${where}: not an object`);
  }
  const byName = new Map();
  for (const field of type.fieldsArray) {
    byName.set(field.name, field);
    if (field.options?.json_name) byName.set(field.options.json_name, field);
    byName.set(
      field.name.replace(/_([a-z])/g, (_m, c) => c.toUpperCase()),
      field,
    );
  }
  for (const [key, item] of Object.entries(value)) {
    const field = byName.get(key);
    if (!field) {
      throw new Error(`${where}: unknown field ${JSON.stringify(key)}`);
    }
    if (field.repeated && item !== null) {
      if (!Array.isArray(item)) throw new Error(`${where}.${key}: not a list`);
      item.forEach((entry, i) => checkValue(field, entry, `${where}.${key}[${i}]`));
    } else {
      checkValue(field, item, `${where}.${key}`);
    }
  }
}
