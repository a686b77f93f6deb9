/** Deepest nesting of arrays and objects a webhook body may have; real payloads are about 5 deep. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Measures how deeply a JSON text nests, over its raw bytes as they arrive, before anything parses
 * it: JSON.parse and the schema check of a body nested thousands deep cost memory and time out of
 * all proportion to its size. Brackets inside strings (escapes included) do not count. Works on
 * UTF-8 bytes: every byte of a multi-byte character is >= 0x80, so none looks like a bracket, a
 * quote or a backslash. It does not check that the text is JSON; JSON.parse does that afterwards.
 */
export class JsonDepthScan {
  readonly limit: number;
  #depth = 0;
  #inString = false;
  #escaped = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Scans the next chunk. False as soon as the nesting goes deeper than `limit` (stop reading). */
  push(chunk: Uint8Array): boolean {
    let depth = this.#depth;
    let inString = this.#inString;
    let escaped = this.#escaped;
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (byte === BACKSLASH) escaped = true;
        else if (byte === QUOTE) inString = false;
      } else if (byte === QUOTE) {
        inString = true;
      } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
        depth++;
        if (depth > this.limit) {
          this.#depth = depth;
          return false;
        }
      } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
        depth--;
      }
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escaped = escaped;
    return true;
  }
}
