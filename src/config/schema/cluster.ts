import { z } from 'zod';
import { duration, option } from '../types.js';
import { apiEndpoint, bucketName, prefix } from './bucket.js';

// Several runwardens on the same app (backup sidecars of several instances, a watcher and its
// standby): a lease per scope in Cloud Storage decides which one acts, and the acting watcher keeps
// a copy of its decision state there. Off when the block is absent: this daemon is the only one.

export const clusterSchema = z
  .strictObject({
    bucket: option(bucketName(), {
      description:
        'The Cloud Storage bucket holding the leases and the shared state (required when `cluster` is set); it may be the off-site bucket.',
      example: 'my-app-backups',
    }),
    prefix: option(prefix.default('runwarden/cluster/'), {
      description: 'Lease and state object names start with this; every runwarden of one app sets the same.',
    }),
    api_endpoint: option(apiEndpoint.optional(), {
      description:
        "Cloud Storage JSON API endpoint; unset: Google's. An http:// URL is an emulator (no credentials sent); an https:// one a private endpoint (Application Default Credentials sent).",
    }),
    lease_ttl: option(duration.prefault('15s'), {
      description:
        'A lease not renewed for this long may be taken by another runwarden; the holder renews it every third of it.',
    }),
    lease_margin: option(duration.prefault('3s'), {
      description:
        'A holder sends no action later than its local lease deadline minus this (covers clock rate drift and a slow request); must be under half of `lease_ttl`.',
    }),
    state_copy_delay: option(duration.prefault('1s'), {
      description:
        'How long the acting watcher lets changes to its state gather before copying the store to the bucket (the copy is at most this far behind).',
    }),
  })
  .refine((cluster) => cluster.lease_margin * 2 < cluster.lease_ttl, {
    error:
      'expected `lease_margin` under half of `lease_ttl`, or a holder would stop acting before it renews',
    path: ['lease_margin'],
  });

export type ClusterConfig = z.output<typeof clusterSchema>;

export const ROLES = ['all', 'backup', 'watch'] as const;
export type Role = (typeof ROLES)[number];

export const roleSchema = z.enum(ROLES).default('all');
