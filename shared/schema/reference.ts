/**
 * The README's rule reference, generated from the schema (the single source of truth for
 * fields, defaults and docs). A test keeps the README's copy identical to this output;
 * `node shared/schema/reference.ts` prints it.
 */
import { z } from 'zod';
import { Instance, Lane, LaneState, Rollout, Service } from './documents.ts';

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  required?: string[];
  default?: unknown;
  description?: string;
  const?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
};

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((e) => `\`${String(e)}\``).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  const t = Array.isArray(s.type) ? s.type.join('\\|') : (s.type ?? 'any');
  if (t === 'array' && s.items) return `list of ${typeOf(s.items)}`;
  if (t === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) {
    return `map of ${typeOf(s.additionalProperties)}`;
  }
  const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
  const range = s.minimum !== undefined && max !== undefined ? ` ${s.minimum}–${max}` : s.minimum !== undefined ? ` ≥ ${s.minimum}` : '';
  return `${t === 'integer' ? 'int' : t}${range}`;
}

function rows(s: JsonSchema, path: string, required: boolean, out: string[]): void {
  const cell = (v: string) => v.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  if (path) {
    const def = s.properties && s.default !== undefined ? 'per field' : s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : required ? '**required**' : '—';
    out.push(`| \`${path}\` | ${typeOf(s)} | ${def} | ${cell(s.description ?? '')} |`);
  }
  if (s.properties) {
    for (const [k, v] of Object.entries(s.properties)) {
      if (path === '' && (k === 'apiVersion' || k === 'kind')) continue;
      // Nested defaults are listed field by field.
      rows(v, path ? `${path}.${k}` : k, s.required?.includes(k) ?? false, out);
    }
  } else if (s.additionalProperties && typeof s.additionalProperties === 'object' && s.additionalProperties.properties) {
    rows(s.additionalProperties, `${path}.<name>`, false, out);
  } else if (s.items?.properties) {
    rows(s.items, `${path}[]`, false, out);
  }
}

/** Markdown tables, one per kind. */
export function referenceMarkdown(): string {
  const parts: string[] = [];
  for (const [kind, schema] of [
    ['Lane', Lane],
    ['Service', Service],
    ['Instance', Instance],
    ['Rollout', Rollout],
    ['LaneState', LaneState],
  ] as const) {
    const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    const out = ['| field | type | default | meaning |', '|---|---|---|---|'];
    rows(js, '', true, out);
    parts.push(`#### ${kind}\n\n${out.join('\n')}\n`);
  }
  return parts.join('\n');
}

if (import.meta.main) process.stdout.write(referenceMarkdown());
