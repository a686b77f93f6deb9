import { invalid } from './playground-error.js';

/** The parts of a time series a filter can test. */
export interface SeriesIdentity {
  metricType: string;
  metricLabels: Readonly<Record<string, string>>;
  resourceType: string;
  resourceLabels: Readonly<Record<string, string>>;
}

/** A parsed Monitoring filter: a conjunction of comparisons. */
export interface SeriesFilter {
  matches(series: SeriesIdentity): boolean;
}

interface Token {
  kind: 'string' | 'word' | 'op' | 'punct';
  text: string;
}

/**
 * Parses the subset of the Monitoring filter language a watchdog needs: comparisons joined by AND
 * (or by spaces) on metric.type, resource.type, metric.label(s).K, resource.label(s).K and project,
 * with `=` or `!=` against a value, one_of(...), starts_with(...), ends_with(...), has_substring(...)
 * or monitoring.regex.full_match(...). Anything else (OR, NOT, parentheses) is INVALID_ARGUMENT
 * rather than silently ignored, so a query never seems to work while matching the wrong series.
 * metric.type must be given, as in Monitoring.
 */
export function parseFilter(text: string): SeriesFilter {
  const cursor = new Cursor(tokenize(text));
  const clauses: Array<(series: SeriesIdentity) => boolean> = [];
  let hasMetricType = false;
  while (cursor.peek()) {
    const field = cursor.next()!;
    if (field.kind === 'word' && field.text === 'AND' && clauses.length > 0) continue;
    if (field.kind !== 'word' || ['OR', 'NOT', 'AND'].includes(field.text)) {
      throw invalid(`filter: unsupported at "${field.text}" (only comparisons joined by AND are supported)`);
    }
    const read = fieldReader(field.text);
    if (field.text === 'metric.type') hasMetricType = true;
    const op = cursor.next();
    if (op?.kind !== 'op') throw invalid(`filter: expected = or != after ${field.text}`);
    const test = valueTest(cursor, field.text);
    const negate = op.text === '!=';
    clauses.push((series) => test(read(series)) !== negate);
  }
  if (!hasMetricType) throw invalid('filter: a metric.type = "..." comparison is required');
  return { matches: (series) => clauses.every((clause) => clause(series)) };
}

class Cursor {
  readonly #tokens: Token[];
  #at = 0;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  peek(): Token | undefined {
    return this.#tokens[this.#at];
  }

  next(): Token | undefined {
    return this.#tokens[this.#at++];
  }
}

function fieldReader(field: string): (series: SeriesIdentity) => string {
  if (field === 'metric.type') return (series) => series.metricType;
  if (field === 'resource.type') return (series) => series.resourceType;
  if (field === 'project') return (series) => series.resourceLabels.project_id ?? '';
  const label = /^(metric|resource)\.labels?\.([A-Za-z0-9_]+)$/.exec(field);
  if (!label) throw invalid(`filter: unknown field "${field}"`);
  const [, scope, key] = label;
  return scope === 'metric'
    ? (series) => series.metricLabels[key!] ?? ''
    : (series) => series.resourceLabels[key!] ?? '';
}

function valueTest(cursor: Cursor, field: string): (value: string) => boolean {
  const value = cursor.next();
  if (!value || (value.kind !== 'string' && value.kind !== 'word'))
    throw invalid(`filter: expected a value for ${field}`);
  if (value.kind === 'string' || cursor.peek()?.text !== '(') return (actual) => actual === value.text;
  cursor.next();
  const args: string[] = [];
  for (;;) {
    const arg = cursor.next();
    if (!arg || (arg.kind !== 'string' && arg.kind !== 'word'))
      throw invalid(`filter: bad arguments to ${value.text}`);
    args.push(arg.text);
    const separator = cursor.next();
    if (separator?.text === ')') break;
    if (separator?.text !== ',') throw invalid(`filter: expected , or ) in ${value.text}(...)`);
  }
  const first = args[0] ?? '';
  switch (value.text) {
    case 'one_of':
      return (actual) => args.includes(actual);
    case 'starts_with':
      return (actual) => actual.startsWith(first);
    case 'ends_with':
      return (actual) => actual.endsWith(first);
    case 'has_substring':
      return (actual) => actual.includes(first);
    case 'monitoring.regex.full_match': {
      const pattern = safeRegex(first);
      return (actual) => pattern.test(actual);
    }
    default:
      throw invalid(`filter: unsupported function ${value.text}(...)`);
  }
}

function safeRegex(source: string): RegExp {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch {
    throw invalid(`filter: bad regular expression ${JSON.stringify(source)}`);
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text[at]!;
    if (/\s/.test(char)) {
      at += 1;
    } else if (char === '"' || char === "'") {
      let value = '';
      at += 1;
      while (at < text.length && text[at] !== char) {
        if (text[at] === '\\' && at + 1 < text.length) at += 1;
        value += text[at];
        at += 1;
      }
      if (at >= text.length) throw invalid('filter: unterminated string');
      at += 1;
      tokens.push({ kind: 'string', text: value });
    } else if (text.startsWith('!=', at)) {
      tokens.push({ kind: 'op', text: '!=' });
      at += 2;
    } else if (char === '=') {
      tokens.push({ kind: 'op', text: '=' });
      at += 1;
    } else if ('(),'.includes(char)) {
      tokens.push({ kind: 'punct', text: char });
      at += 1;
    } else {
      const match = /^[A-Za-z0-9_.\-/]+/.exec(text.slice(at));
      if (!match) throw invalid(`filter: unexpected character "${char}" at ${at}`);
      tokens.push({ kind: 'word', text: match[0] });
      at += match[0].length;
    }
  }
  return tokens;
}
