import { z } from 'zod';
import { ageRecipientProblem } from '../../core/age-recipient.js';
import { describeValue, duration, option } from '../types.js';
import { apiEndpoint, bucketName, prefix } from './bucket.js';
import { retentionRulesSchema } from './retention.js';

// Off-site copies of the archives in a Cloud Storage bucket. Off when the block is absent.

const recipient = z.string().superRefine((text, ctx) => {
  const problem = ageRecipientProblem(text);
  if (problem)
    ctx.addIssue({
      code: 'custom',
      message: `expected an age X25519 recipient (age1...): ${problem}, got ${describeValue(text)}`,
    });
});

/** Client-side encryption of the copies: the bucket holds only age ciphertext. */
const encryptionSchema = z.strictObject({
  recipients: option(
    z
      .array(recipient, {
        error: (issue) => `expected a list of age recipients, got ${describeValue(issue.input)}`,
      })
      .min(1, {
        error: 'expected at least one age recipient (age1...); remove `encryption` to copy unencrypted',
      }),
    {
      description:
        'age public keys (`age1...`, from `age-keygen`) each copy is encrypted to; any one of their identities decrypts it. Keep the identities off this machine.',
    },
  ),
});

export const STORAGE_CLASSES = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'] as const;

export const offsiteSchema = z.strictObject({
  bucket: option(bucketName(), {
    description: 'The Cloud Storage bucket archives are copied to (required when `offsite` is set).',
    example: 'my-app-backups',
  }),
  prefix: option(prefix.default('runwarden/'), {
    description:
      'Object names start with this. Never derived from the host name, so a new machine finds the archives of the old one; apps sharing a bucket each set their own.',
  }),
  storage_class: option(z.enum(STORAGE_CLASSES).optional(), {
    description:
      "Storage class of the copies; unset: the bucket's default. NEARLINE, COLDLINE and ARCHIVE bill early deletion (30, 90, 365 days): keep the off-site retention at least that long.",
  }),
  retention: option(retentionRulesSchema.optional(), {
    description:
      'Retention of the copies in the bucket, with the same rules as `backup.retention`; unset: the local policy. The newest confirmed copy is always kept, and copies not yet confirmed are never deleted.',
  }),
  upload_timeout: option(duration.prefault('1h'), {
    description: 'Longest one copy may take (upload and read-back); it then fails and is tried again later.',
  }),
  concurrency: option(z.number().int().min(1).max(16).default(1), {
    description: 'Archives uploaded at once when several wait; they are taken oldest first.',
  }),
  read_back: option(z.enum(['metadata', 'full']).default('metadata'), {
    description:
      "How a copy is confirmed: metadata compares the object's size and CRC32C with the local file; full also downloads it again and compares its SHA-256 (twice the traffic).",
  }),
  encryption: option(encryptionSchema.optional(), {
    description:
      'Encrypt each copy on this machine before it leaves (age); the object is `<archive>.zip.age`. Unset: copies are the plain ZIP archives.',
  }),
  api_endpoint: option(apiEndpoint.optional(), {
    description:
      "Cloud Storage JSON API endpoint; unset: Google's. An http:// URL is an emulator (no credentials sent); an https:// one a private endpoint (Application Default Credentials sent).",
  }),
});

export type OffsiteConfig = z.output<typeof offsiteSchema>;
