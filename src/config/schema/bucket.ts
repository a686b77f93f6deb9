import { z } from 'zod';
import { describeValue } from '../types.js';

// Names shared by every block that points at a Cloud Storage bucket (off-site copies, the cluster).

/** Cloud Storage's rule for bucket names without dots' extra rules: 3-63 of a-z 0-9 - _ . */
const BUCKET = /^[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]$/;

/** A fresh schema per use: option() attaches each block's own docs to the schema instance. */
export function bucketName() {
  return z.string().regex(BUCKET, {
    error: (issue) =>
      `expected a Cloud Storage bucket name (3-63 characters: lowercase letters, digits, "-", "_", "."), got ${describeValue(issue.input)}`,
  });
}

/**
 * A folder-like prefix every object name starts with. Never derived from the host name: a new
 * machine (a replaced VM, a new container) must find the archives the old one left.
 */
export const prefix = z
  .string()
  .refine((text) => !text.startsWith('/'), {
    error: (issue) =>
      `expected a prefix without a leading "/" (like "runwarden/"), got ${describeValue(issue.input)}`,
    abort: true,
  })
  .refine((text) => text.endsWith('/'), {
    error: (issue) =>
      `expected a prefix ending with "/" (like "runwarden/"), got ${describeValue(issue.input)}`,
    abort: true,
  })
  .refine(
    (text) =>
      text
        .split('/')
        .slice(0, -1)
        .every((segment) => segment !== '' && segment !== '.' && segment !== '..'),
    {
      error: (issue) =>
        `expected a prefix of "/"-separated names without empty, "." or ".." parts, got ${describeValue(issue.input)}`,
      abort: true,
    },
  )
  .refine((text) => !/[\u0000-\u001f\u007f#[\]*?]/.test(text), {
    error: (issue) =>
      `expected a prefix without control characters or any of # [ ] * ? (they break gcloud storage wildcards), got ${describeValue(issue.input)}`,
  });

export const apiEndpoint = z.string().regex(/^https?:\/\/[^/\s]+\/?$/, {
  error: (issue) => `expected http(s)://host[:port], got ${describeValue(issue.input)}`,
});
