import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../core/errors.js';
import { envNameFor, envOptions, envVariableProblem, isRunwardenVariable } from './env-names.js';
import { formatIssues, formatPath } from './issues.js';
import { type Config, configSchema } from './schema.js';
import { resolveBackupPaths } from './schema/backup.js';
import { resolveServerPaths } from './schema/server.js';
import { listOptions, type OptionLeaf } from './schema-walk.js';

/** Where the config is looked for when no --config is given, in order. */
export const DEFAULT_CONFIG_PATHS = ['./config/runwarden.yaml', '/etc/runwarden/runwarden.yaml'];

export interface LoadConfigOptions {
  /** An explicit --config path; it must exist. */
  path?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or undefined when none was found and the defaults apply. */
  source: string | undefined;
}

const OPTIONS = listOptions(configSchema);
const ENV_OPTIONS = envOptions(OPTIONS);

/**
 * Reads, merges (file < env) and validates the configuration. Throws a ConfigError listing every
 * problem with its path; nothing is half-applied.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const source = findConfigFile(options.path, cwd);
  const raw = source ? readYaml(source) : {};
  const problems: string[] = [];
  const fromEnv = applyEnv(raw, env, problems);
  applySecretFiles(raw, '', problems, cwd);
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    problems.push(
      ...formatIssues(result.error.issues, shapeOf).map((line) => {
        const envName = fromEnv.get(line.slice(0, line.indexOf(':')));
        return envName ? `${line} (from ${envName})` : line;
      }),
    );
  }
  if (problems.length > 0 || !result.success) {
    const where = source ? ` in ${source}` : '';
    throw new ConfigError(`configuration has ${problems.length} problem(s)${where}`, problems);
  }
  const config = result.data;
  config.state_dir = path.resolve(source ? path.dirname(source) : cwd, config.state_dir);
  resolveBackupPaths(config.backup, source ? path.dirname(source) : cwd);
  resolveServerPaths(config.server, source ? path.dirname(source) : cwd);
  return { config, source };
}

function findConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined) {
    const resolved = path.resolve(cwd, explicit);
    if (!existsSync(resolved))
      throw new ConfigError(`config file ${resolved}: not found`, [`--config: no file at ${resolved}`]);
    return resolved;
  }
  return DEFAULT_CONFIG_PATHS.map((candidate) => path.resolve(cwd, candidate)).find((candidate) =>
    existsSync(candidate),
  );
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `read config ${file}: ${errorMessage(error)}`,
      [`${file}: ${errorMessage(error)}`],
      { cause: error },
    );
  }
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    const problems = document.errors.map((error) => {
      const at = error.linePos?.[0];
      return `${file}${at ? `:${at.line}:${at.col}` : ''}: ${error.message.split('\n')[0]}`;
    });
    throw new ConfigError(`config ${file} is not valid YAML`, problems);
  }
  if (document.contents === null) return {};
  if (!isMap(document.contents)) {
    throw new ConfigError(`config ${file} must be a mapping`, [
      '(top level): expected a mapping of keys to values',
    ]);
  }
  return document.toJS() as Record<string, unknown>;
}

/**
 * Sets every scalar option found in `env`; returns which option came from which variable. A
 * RUNWARDEN_ variable that names no option is a problem, like an unknown key in the file.
 */
function applyEnv(raw: Record<string, unknown>, env: Record<string, string | undefined>, problems: string[]) {
  for (const name of Object.keys(env).filter(isRunwardenVariable).sort()) {
    const problem = env[name] === undefined ? undefined : envVariableProblem(name);
    if (problem) problems.push(problem);
  }
  const fromEnv = new Map<string, string>();
  for (const leaf of ENV_OPTIONS) {
    const name = envNameFor(leaf.path);
    let value = env[name];
    if (leaf.meta.secret && value === undefined && env[`${name}_FILE`] !== undefined) {
      value = readSecretFile(env[`${name}_FILE`] as string, `${name}_FILE`, problems);
    }
    if (value === undefined) continue;
    setPath(raw, leaf.path.split('.'), coerce(leaf, value));
    fromEnv.set(leaf.path, name);
  }
  return fromEnv;
}

function coerce(leaf: OptionLeaf, value: string): unknown {
  if (leaf.kind === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (leaf.kind === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

const SECRET_PATHS = new Set(OPTIONS.filter((leaf) => leaf.meta.secret).map((leaf) => leaf.path));

/** Replaces `<secret>_file: /path` with the file's contents (trailing newline trimmed). */
function applySecretFiles(node: unknown, at: string, problems: string[], cwd: string): void {
  if (Array.isArray(node)) {
    for (const item of node) applySecretFiles(item, `${at}[]`, problems, cwd);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const childPath = at ? `${at}.${key}` : key;
    const base = key.endsWith('_file') ? key.slice(0, -'_file'.length) : undefined;
    const basePath = base && (at ? `${at}.${base}` : base);
    if (base && basePath && SECRET_PATHS.has(basePath)) {
      const file = record[key];
      delete record[key];
      if (typeof file !== 'string') {
        problems.push(`${childPath}: expected a file path, got ${typeof file}`);
      } else if (record[base] === undefined) {
        record[base] = readSecretFile(path.resolve(cwd, file), childPath, problems);
      }
      continue;
    }
    applySecretFiles(record[key], childPath, problems, cwd);
  }
}

function readSecretFile(file: string, from: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    problems.push(
      `${from}: cannot read secret file ${file}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`,
    );
    return undefined;
  }
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1) as string] = value;
}

/** Known keys under an object path (list indexes folded), for "unknown key" hints. */
function shapeOf(objectPath: string): string[] {
  const folded = objectPath === '(top level)' ? '' : objectPath.replace(/\[\d+\]/g, '[]');
  const prefix = folded ? `${folded}.` : '';
  const keys = new Set<string>();
  for (const leaf of OPTIONS) {
    if (!leaf.path.startsWith(prefix)) continue;
    const rest = leaf.path.slice(prefix.length);
    const key = rest.split(/[.[]/)[0];
    if (key) keys.add(key);
  }
  return [...keys];
}

/** The effective config as YAML-ready data, durations as text and secrets redacted. */
export function printableConfig(config: Config): unknown {
  const encoded = z.encode(configSchema, config);
  return redactSecrets(encoded, '');
}

export const REDACTED = '[redacted]';

function redactSecrets(node: unknown, at: string): unknown {
  if (Array.isArray(node)) return node.map((item) => redactSecrets(item, `${at}[]`));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => {
      const childPath = at ? `${at}.${key}` : key;
      if (SECRET_PATHS.has(childPath) && value !== undefined) return [key, REDACTED];
      return [key, redactSecrets(value, childPath)];
    }),
  );
}

export { envNameFor, formatPath };
