import { z } from 'zod';

// Owned by the backups work (issue 3): sources, schedule, archive naming, retention.
export const backupSchema = z.strictObject({}).prefault({});
