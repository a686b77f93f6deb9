import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../core/errors.js';
import { behaviourInputSchema } from './behaviour.js';

const NAME = /^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/;

const trafficTargetSchema = z
  .strictObject({
    revision: z.string().min(1).optional().describe('a revision name given in this scenario'),
    latest: z.boolean().optional().describe('true: this share follows the latest revision'),
    percent: z.number().int().min(0).max(100),
    tag: z.string().optional(),
  })
  .refine((target) => (target.revision !== undefined) !== (target.latest === true), {
    message: 'give exactly one of revision or latest: true',
  });

/**
 * A playground scenario: the project, region, services and Cloud Storage buckets to emulate. Each service deploys its
 * revisions in order (the last one is the latest) and then takes `traffic`, or all traffic on the
 * latest revision when `traffic` is omitted.
 */
export const scenarioSchema = z.strictObject({
  project: z
    .string()
    .regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, 'a Google Cloud project id')
    .default('playground-project'),
  region: z
    .string()
    .regex(/^[a-z]+-[a-z]+\d$/, 'a region such as europe-west1')
    .default('europe-west1'),
  services: z
    .array(
      z.strictObject({
        name: z.string().regex(NAME, 'lowercase letters, digits and dashes, starting with a letter'),
        revisions: z
          .array(
            z.strictObject({
              name: z.string().regex(NAME).optional(),
              behaviour: behaviourInputSchema.optional(),
              image: z.string().optional(),
            }),
          )
          .min(1)
          .default([{}]),
        traffic: z.array(trafficTargetSchema).min(1).optional(),
      }),
    )
    .min(1),
  buckets: z
    .array(
      z
        .string()
        .regex(/^[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]$/, 'a Cloud Storage bucket name')
        .describe('a bucket of the Cloud Storage emulator, empty at start'),
    )
    .default([]),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;

/** One healthy service, for `runwarden playground` without --scenario. */
export const DEFAULT_SCENARIO: ScenarioInput = {
  project: 'playground-project',
  region: 'europe-west1',
  services: [{ name: 'demo', revisions: [{ behaviour: 'healthy' }] }],
  buckets: ['playground-backups'],
};

/** Validates a scenario object; ConfigError lists every problem with its path. */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${[source, ...issue.path].join('.')}: ${issue.message}`,
    );
    throw new ConfigError(`invalid playground scenario: ${problems.join('; ')}`, problems);
  }
  const names = new Set<string>();
  for (const service of parsed.data.services) {
    if (names.has(service.name)) throw new ConfigError(`${source}: service ${service.name} is listed twice`);
    names.add(service.name);
  }
  if (new Set(parsed.data.buckets).size !== parsed.data.buckets.length) {
    throw new ConfigError(`${source}: a bucket is listed twice`);
  }
  return parsed.data;
}

/** Reads a scenario from a YAML or JSON file. */
export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`read scenario ${path}: ${errorMessage(error)}`, [], { cause: error });
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (error) {
    throw new ConfigError(`parse scenario ${path}: ${errorMessage(error)}`, [], { cause: error });
  }
  return parseScenario(data, path);
}
