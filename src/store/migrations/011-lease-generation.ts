import type { Migration } from './migration.js';

/**
 * Several runwardens on one app (cluster): each history entry keeps the generation of the `watch`
 * lease object its writer held when it wrote it (NULL with no cluster, or not held), so an action
 * can be traced to the lease that allowed it and checked against that lease's term.
 */
export const leaseGenerationMigration: Migration = {
  version: 11,
  name: 'lease-generation',
  sql: `
    ALTER TABLE watch_history ADD COLUMN lease_generation INTEGER;
  `,
};
