// JSON text exactly as Python's json.dumps(value, separators=(",", ":")) writes it,
// which is what PyJWT signs. Only needed to reproduce a JWS byte for byte (the
// test vectors); verification always works on the bytes as received.
//
// Differences from JSON.stringify that matter:
//   * ensure_ascii: every character outside ' '..'~' is written as \uXXXX
//     (lower-case hex; astral characters as their UTF-16 surrogate pair);
//   * a Python float that is a whole number keeps its ".0" (1.0, not 1):
//     JavaScript has one number type, so such values are wrapped in PyFloat.

/** A number Python holds as a float: written with a fraction even when whole. */
export class PyFloat {
  /** @param {number} value */
  constructor(value) {
    this.value = value;
  }
}

const SHORT_ESCAPES = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function pyString(text) {
  let out = '"';
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    const code = text.charCodeAt(i);
    if (SHORT_ESCAPES[ch] !== undefined) {
      out += SHORT_ESCAPES[ch];
    } else if (code < 0x20 || code > 0x7e) {
      out += "\\u" + code.toString(16).padStart(4, "0");
    } else {
      out += ch;
    }
  }
  return out + '"';
}

function pyNumber(value, float) {
  if (!Number.isFinite(value)) {
    throw new TypeError("NaN and Infinity are not JSON");
  }
  const text = String(value);
  if (float && Number.isInteger(value) && !/[e.]/.test(text)) {
    return text + ".0";
  }
  return text;
}

/**
 * Python's compact json.dumps of `value` (objects keep insertion order, as Python dicts do).
 * @param {unknown} value
 * @returns {string}
 */
export function pyDumps(value) {
  if (value === null) return "null";
  if (value instanceof PyFloat) return pyNumber(value.value, true);
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return pyNumber(value, false);
    case "string":
      return pyString(value);
    case "object":
      if (Array.isArray(value)) {
        return "[" + value.map(pyDumps).join(",") + "]";
      }
      return (
        "{" +
        Object.entries(value)
          .map(([k, v]) => pyString(k) + ":" + pyDumps(v))
          .join(",") +
        "}"
      );
    default:
      throw new TypeError(`cannot write ${typeof value} as JSON`);
  }
}
