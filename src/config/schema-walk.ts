import type { z } from 'zod';
import { type OptionMeta, optionMeta } from './types.js';

/** One configurable value of the schema, found by walking it. */
export interface OptionLeaf {
  /** Dotted path, e.g. `backup.retention.keep_within`; list items are `services[]`. */
  path: string;
  /** What kind of value: string, number, boolean, enum, duration, list, or map. */
  kind: 'string' | 'number' | 'boolean' | 'enum' | 'duration' | 'list' | 'map';
  /** The default as written in YAML (durations as text), or undefined when there is none. */
  defaultValue: unknown;
  enumValues?: readonly string[];
  meta: OptionMeta;
  /**
   * The optional sections this option sits in, outermost first (e.g. `backup.offsite`, then
   * `backup.offsite.retention`): an absent section means its feature is off (or takes its value from
   * elsewhere), so the example file shows it commented out.
   */
  optionalSections?: { path: string; meta: OptionMeta }[];
}

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

/** Every leaf option of `schema`, objects flattened, in declaration order. */
export function listOptions(schema: z.ZodType, prefix = ''): OptionLeaf[] {
  const leaves: OptionLeaf[] = [];
  visit(schema as AnySchema, prefix, {}, undefined, leaves);
  return leaves;
}

/** The schema inside any default, prefault, optional or nullable wrappers. */
function unwrap(schema: AnySchema): AnySchema {
  const def = schema._zod.def;
  return ['default', 'prefault', 'optional', 'nullable'].includes(def.type)
    ? unwrap(def.innerType as AnySchema)
    : schema;
}

function visit(
  schema: AnySchema,
  path: string,
  meta: OptionMeta,
  defaultValue: unknown,
  out: OptionLeaf[],
): void {
  const merged = { ...(optionMeta.get(schema) ?? {}), ...meta };
  const def = schema._zod.def;
  switch (def.type) {
    case 'default':
    case 'prefault': {
      visit(def.innerType as AnySchema, path, merged, defaultValue ?? def.defaultValue, out);
      return;
    }
    case 'optional':
    case 'nullable': {
      const inner = def.innerType as AnySchema;
      if (unwrap(inner)._zod.def.type === 'object' && defaultValue === undefined) {
        const from = out.length;
        visit(inner, path, merged, defaultValue, out);
        for (const leaf of out.slice(from)) {
          leaf.optionalSections = [{ path, meta: merged }, ...(leaf.optionalSections ?? [])];
        }
        return;
      }
      visit(inner, path, merged, defaultValue, out);
      return;
    }
    case 'object': {
      for (const [key, child] of Object.entries(def.shape as Record<string, AnySchema>)) {
        visit(child, path ? `${path}.${key}` : key, {}, undefined, out);
      }
      return;
    }
    case 'pipe': {
      // A codec: the input side says what a person writes.
      const input = def.in as AnySchema;
      const isDuration = input._zod.def.type === 'string' || input._zod.def.type === 'pipe';
      out.push({ path, kind: isDuration ? 'duration' : 'string', defaultValue, meta: merged });
      return;
    }
    case 'array': {
      const element = def.element as AnySchema;
      if (element._zod.def.type === 'object') {
        out.push({ path, kind: 'list', defaultValue, meta: merged });
        visit(element, `${path}[]`, {}, undefined, out);
      } else {
        out.push({ path, kind: 'list', defaultValue, meta: merged });
      }
      return;
    }
    case 'record':
      out.push({ path, kind: 'map', defaultValue, meta: merged });
      return;
    case 'enum':
      out.push({
        path,
        kind: 'enum',
        defaultValue,
        enumValues: Object.values(def.entries as Record<string, string>),
        meta: merged,
      });
      return;
    case 'number':
    case 'boolean':
      out.push({ path, kind: def.type, defaultValue, meta: merged });
      return;
    default:
      out.push({ path, kind: 'string', defaultValue, meta: merged });
  }
}
