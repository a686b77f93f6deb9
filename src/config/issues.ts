import type { z } from 'zod';
import { describeValue } from './types.js';

/** Formats a path as people read it: `services[0].rules.error_rate`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text ? `.${String(part)}` : String(part);
  }
  return text || '(top level)';
}

/** One line per problem: `<path>: expected <what>, got <what>`. */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  shapeOf?: (path: string) => string[],
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = formatPath([...issue.path, key]);
        const known = shapeOf?.(formatPath(issue.path)) ?? [];
        const hint = known.length ? ` (expected one of: ${known.join(', ')})` : '';
        lines.push(`${path}: unknown key${hint}`);
      }
      continue;
    }
    if (issue.code === 'invalid_union') {
      // Report the branch that got furthest rather than every alternative.
      const branch = issue.errors.reduce((best, errors) => (errors.length < best.length ? errors : best));
      lines.push(
        ...formatIssues(
          branch.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] })),
          shapeOf,
        ),
      );
      continue;
    }
    lines.push(`${formatPath(issue.path)}: ${describeIssue(issue)}`);
  }
  return lines;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // Options with their own wording ("expected a duration like ...") keep it.
  if (issue.message.startsWith('expected ')) return issue.message;
  const got = describeValue(issue.input);
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `required (expected ${issue.expected})`
        : `expected ${issue.expected}, got ${got}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}, got ${got}`;
    case 'too_small':
      return `expected ${issue.origin === 'string' ? 'a length of' : 'a value'} at least ${issue.minimum}, got ${got}`;
    case 'too_big':
      return `expected ${issue.origin === 'string' ? 'a length of' : 'a value'} at most ${issue.maximum}, got ${got}`;
    case 'invalid_format':
      return `expected a valid ${issue.format}, got ${got}`;
    default:
      return issue.message;
  }
}
