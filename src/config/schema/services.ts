import { z } from 'zod';

// Owned by the deploy-watch work (issue 5): the Cloud Run services to watch, their probes and rules.
export const servicesSchema = z.array(z.strictObject({})).default([]);
