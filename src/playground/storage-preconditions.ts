import { badRequest, conditionNotMet, notModified } from './storage-api-error.js';

/** The generation preconditions of Cloud Storage's JSON API, as query parameters name them. */
export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

const NAMES = [
  'ifGenerationMatch',
  'ifGenerationNotMatch',
  'ifMetagenerationMatch',
  'ifMetagenerationNotMatch',
] as const;

/** Reads the preconditions of a request; 400 names a value that is not a whole number >= 0. */
export function parsePreconditions(params: URLSearchParams): Preconditions {
  const out: Preconditions = {};
  for (const name of NAMES) {
    const raw = params.get(name);
    if (raw === null) continue;
    if (!/^\d{1,16}$/.test(raw)) throw badRequest(`Invalid argument for ${name}: "${raw}"`);
    out[name] = Number(raw);
  }
  return out;
}

/** The live version of an object a precondition is checked against; undefined when it is absent. */
export interface Versioned {
  generation: number;
  metageneration: number;
}

/**
 * Throws 412 when `current` does not satisfy `pre`. `ifGenerationMatch: 0` holds only when the object
 * is absent (a create that never overwrites). On reads (`read: true`) a failed `...NotMatch` answers
 * 304 Not Modified, as Cloud Storage does for GETs.
 */
export function checkPreconditions(current: Versioned | undefined, pre: Preconditions, read = false): void {
  const generation = current?.generation ?? 0;
  if (pre.ifGenerationMatch !== undefined && pre.ifGenerationMatch !== generation) {
    throw conditionNotMet(`ifGenerationMatch=${pre.ifGenerationMatch}, generation is ${generation}`);
  }
  if (
    pre.ifMetagenerationMatch !== undefined &&
    (!current || current.metageneration !== pre.ifMetagenerationMatch)
  ) {
    throw conditionNotMet(
      `ifMetagenerationMatch=${pre.ifMetagenerationMatch}, metageneration is ${current?.metageneration ?? 'absent'}`,
    );
  }
  const notMatch =
    (pre.ifGenerationNotMatch !== undefined && pre.ifGenerationNotMatch === generation) ||
    (pre.ifMetagenerationNotMatch !== undefined && current?.metageneration === pre.ifMetagenerationNotMatch);
  if (notMatch) {
    if (read) throw notModified();
    throw conditionNotMet('ifGenerationNotMatch/ifMetagenerationNotMatch matched the current version');
  }
}
