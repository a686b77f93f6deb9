import { z } from 'zod';

/**
 * Arrays and label sets in a webhook body are checked element by element, and checking stops after
 * this many bad elements: an authenticated body of 20,000 malformed alerts would otherwise make the
 * schema build (and the refusal format) tens of thousands of issues, about 60 MB and a second of
 * CPU for one 1 MB request. The refusal lists at most 20 problems anyway.
 */
export const MAX_BAD_ELEMENTS = 20;

/** Like `z.array(item)`, but stops checking after MAX_BAD_ELEMENTS bad items. */
export function boundedArray<T extends z.ZodType>(item: T) {
  return z.array(z.unknown()).transform((items, context): z.output<T>[] => {
    const parsed: z.output<T>[] = [];
    let bad = 0;
    for (const [index, value] of items.entries()) {
      const result = item.safeParse(value, { reportInput: true });
      if (result.success) {
        parsed.push(result.data);
        continue;
      }
      nest(context.issues, result.error.issues, index);
      if (++bad >= MAX_BAD_ELEMENTS) return z.NEVER;
    }
    return bad > 0 ? z.NEVER : parsed;
  });
}

/** Like `z.record(z.string(), value)`, but stops checking after MAX_BAD_ELEMENTS bad values. */
export function boundedRecord<T extends z.ZodType>(value: T) {
  return z.record(z.string(), z.unknown()).transform((record, context): Record<string, z.output<T>> => {
    const parsed: Record<string, z.output<T>> = {};
    let bad = 0;
    for (const [key, item] of Object.entries(record)) {
      const result = value.safeParse(item, { reportInput: true });
      if (result.success) {
        parsed[key] = result.data;
        continue;
      }
      nest(context.issues, result.error.issues, key);
      if (++bad >= MAX_BAD_ELEMENTS) return z.NEVER;
    }
    return bad > 0 ? z.NEVER : parsed;
  });
}

/** Adds an element's issues under its index or key (zod prefixes the path of the enclosing value). */
function nest(into: z.core.$ZodRawIssue[], issues: readonly z.core.$ZodIssue[], at: PropertyKey): void {
  for (const issue of issues) into.push({ ...issue, path: [at, ...issue.path] } as z.core.$ZodRawIssue);
}
