import { configSchema } from './schema.js';
import { listOptions, type OptionLeaf } from './schema-walk.js';

const PREFIX = 'RUNWARDEN_';

/**
 * RUNWARDEN_ variables that are not options, each with what reads it. Anything else under the prefix
 * that names no option is a config error, so a misspelt override fails loudly instead of being
 * ignored. A test greps src/ and test/ for RUNWARDEN_ names and fails on one missing here.
 */
export const NON_OPTION_VARIABLES: ReadonlyMap<string, string> = new Map([
  [
    'RUNWARDEN_TEST_RESTORE_PAUSE_AT',
    'tests only: stops a restore at a step so a crash test can kill it there (src/backup/restore-pause.ts)',
  ],
]);

const SCALAR_KINDS = new Set<OptionLeaf['kind']>(['string', 'number', 'boolean', 'enum', 'duration']);

/** `RUNWARDEN_BACKUP_RETENTION_KEEP_WITHIN` for `backup.retention.keep_within`. */
export function envNameFor(optionPath: string): string {
  return `${PREFIX}${optionPath.replaceAll('.', '_').toUpperCase()}`;
}

/** Options an environment variable can set: scalars outside lists. */
export function envOptions(options: readonly OptionLeaf[]): OptionLeaf[] {
  return options.filter((leaf) => SCALAR_KINDS.has(leaf.kind) && !leaf.path.includes('[]'));
}

const OPTIONS = listOptions(configSchema);
const SETTABLE = envOptions(OPTIONS).map((leaf) => envNameFor(leaf.path));
const SECRET_FILES = envOptions(OPTIONS)
  .filter((leaf) => leaf.meta.secret)
  .map((leaf) => `${envNameFor(leaf.path)}_FILE`);
const KNOWN = new Set([...SETTABLE, ...SECRET_FILES, ...NON_OPTION_VARIABLES.keys()]);
const LISTS = new Map(
  OPTIONS.filter((leaf) => leaf.kind === 'list' || leaf.kind === 'map').map((leaf) => [
    envNameFor(leaf.path.replaceAll('[]', '')),
    leaf.path,
  ]),
);

/** Whether a variable is in runwarden's namespace (any case: `runwarden_log_level` is a slip too). */
export function isRunwardenVariable(name: string): boolean {
  return name.toUpperCase().startsWith(PREFIX);
}

/**
 * The problem with a RUNWARDEN_ variable, as a config problem line, or undefined when it names an
 * option, a secret's `_FILE`, or an allow-listed non-option variable.
 */
export function envVariableProblem(name: string): string | undefined {
  if (KNOWN.has(name)) return undefined;
  const upper = name.toUpperCase();
  const list = LISTS.get(upper);
  if (list !== undefined && upper === name) {
    return `${name}: ${list} is a list; set it in the config file (lists have no environment variable)`;
  }
  const guess = closest(upper, [...KNOWN]);
  if (upper.endsWith('_FILE') && SETTABLE.includes(upper.slice(0, -'_FILE'.length))) {
    return `${name}: unknown environment variable (only secrets take _FILE; did you mean ${upper.slice(0, -'_FILE'.length)}?)`;
  }
  if (guess === undefined) {
    return `${name}: unknown environment variable (options are ${PREFIX} plus their path; see \`runwarden config print\`)`;
  }
  return `${name}: unknown environment variable (did you mean ${guess}?)`;
}

/** The candidate nearest to `name` by edit distance, when near enough to be a likely slip. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Past the shared prefix, more than about a third of the name changed is a different name.
  const comparable = Math.max(name.length, best?.length ?? 0) - PREFIX.length;
  return bestDistance <= Math.max(2, Math.ceil(comparable / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
