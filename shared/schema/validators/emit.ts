/**
 * The validator compiler (docs/footprint.md#the-snapshot-check): the zod schema in, the
 * TypeScript source of plain functions out, which accept, reject and fill defaults as zod's parse
 * does, with zod's issues — the same codes, field paths and messages, in the same order. The
 * schema stays the single source of truth: this walks its definitions (`_zod.def`), takes zod's
 * own messages (its locale and each check's `error`) at compile time, and calls the refinements
 * by the name the schema gives them (refine.ts). A construct it does not know fails the compile
 * with the path where it sits, never a validator that is less strict.
 *
 * It mirrors zod 4's parse: strict objects (unknown keys reported after the fields, `__proto__`
 * too), optional/default/nullable keys and their presence rule (`key in input`), records (keys
 * checked first, `__proto__` skipped, plain objects only), arrays (a `max` exceeded skips the
 * elements), unions (the one option that did not abort, else every option's issues),
 * discriminated unions, and the abort rule of checks (a check after an aborting issue does not
 * run, except a length check, which stops only at an explicit abort).
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { REFINEMENTS } from '../refinements.ts';

type Schema = z.core.$ZodType;
// zod's definitions and issues, read generically.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** One exported validator: `check<name>(input)`, its value of TypeScript type `type` (names imported from `typeFrom`). */
export interface Root {
  name: string;
  schema: Schema;
  type: string;
  typeFrom?: { module: string; names: string[] };
}

/** A string format whose whole check is its pattern (zod's other formats have code of their own). */
const PATTERN_FORMATS = new Set(['regex', 'datetime', 'date', 'time', 'duration', 'uuid', 'guid', 'ulid', 'xid', 'ksuid', 'nanoid', 'cuid', 'cuid2', 'lowercase', 'uppercase', 'emoji', 'email']);

const MARK = '\u0000received\u0000';
/** An input whose type name is MARK, to cut zod's invalid_type message around the received type. */
const MARKED: unknown = Object.create({ constructor: { name: MARK } });

class Unsupported extends Error {}

class Emitter {
  readonly #functions: string[] = [];
  readonly #byBody = new Map<string, string>();
  readonly #bySchema = new Map<Schema, string>();
  readonly #consts = new Map<string, string>();
  readonly #constLines: string[] = [];
  readonly refinements = new Set<string>();

  /** A module constant holding `expr` (one per distinct expression). */
  const(expr: string): string {
    let name = this.#consts.get(expr);
    if (name === undefined) {
      name = `C${this.#consts.size}`;
      this.#consts.set(expr, name);
      this.#constLines.push(`const ${name} = ${expr};`);
    }
    return name;
  }

  /** A string constant. */
  str(s: string): string {
    return this.const(JSON.stringify(s));
  }

  /** The name of the function validating `schema` (compiled once per schema, shared by equal bodies). */
  fn(schema: Schema, where: string): string {
    const known = this.#bySchema.get(schema);
    if (known !== undefined) return known;
    const checks = checksOf(schema);
    const lines = [...(checks.length > 0 ? ['const s = I.length;'] : []), ...this.#parse(schema, where)];
    for (const check of checks) lines.push(...this.#check(check, schema, where));
    lines.push('return o;');
    const body = lines.map((l) => `  ${l}`).join('\n');
    let name = this.#byBody.get(body);
    if (name === undefined) {
      name = `v${this.#byBody.size}`;
      this.#byBody.set(body, name);
      this.#functions.push(`/** ${where} */\nfunction ${name}(v: any, I: RawIssue[], P: Key[]): any {\n  let o: any = v;\n${body}\n}`);
    }
    this.#bySchema.set(schema, name);
    return name;
  }

  /**
   * The message zod gives an issue raised by `raiser` while `owner` runs, computed now: with the
   * issue's own `input` when it has one, else it must not depend on the input.
   */
  message(issue: Record<string, unknown>, raiser: Any, owner: Any, where: string): string {
    if ('input' in issue) return this.str(messageOf(issue, raiser, owner));
    const a = messageOf({ ...issue, input: 'a' }, raiser, owner);
    const b = messageOf({ ...issue, input: 12345 }, raiser, owner);
    if (a !== b) throw new Unsupported(`${where}: a message that depends on the input (make it a refinement of shared/schema/refinements.ts)`);
    return this.str(a);
  }

  /**
   * zod's invalid_type message as an expression of `input`: the message is cut around the type
   * name it gives the input (computed at run time, as zod does), or is a constant.
   */
  typeMessage(expected: string, raiser: Any, owner: Any, where: string, input: string): string {
    const m = messageOf({ code: 'invalid_type', expected, input: MARKED }, raiser, owner);
    const parts = m.split(MARK);
    if (parts.length === 1) return this.message({ code: 'invalid_type', expected }, raiser, owner, where);
    if (parts.length > 2) throw new Unsupported(`${where}: an invalid_type message naming the received type twice`);
    return `${this.str(parts[0]!)} + received(${input})${parts[1] === '' ? '' : ` + ${this.str(parts[1]!)}`}`;
  }

  /** The statement reporting that `v` is not of the `expected` type (an aborting issue). */
  typeIssue(expected: string, schema: Schema, where: string): string {
    return `I.push({ code: 'invalid_type', path: P.slice(), message: ${this.typeMessage(expected, schema, schema, where, 'v')} });`;
  }

  #parse(schema: Schema, where: string): string[] {
    const def = schema._zod.def as Any;
    const traits = schema._zod.traits;
    if (def.coerce) throw new Unsupported(`${where}: z.coerce`);
    switch (def.type as string) {
      case 'string':
        return [`if (typeof v !== 'string') ${this.typeIssue('string', schema, where)}`];
      case 'number':
        return [`if (typeof v !== 'number' || !Number.isFinite(v)) ${this.typeIssue('number', schema, where)}`];
      case 'boolean':
        return [`if (typeof v !== 'boolean') ${this.typeIssue('boolean', schema, where)}`];
      case 'null':
        return [`if (v !== null) ${this.typeIssue('null', schema, where)}`];
      case 'unknown':
      case 'any':
        return [];
      case 'custom':
        return []; // z.custom / a refinement used as a schema: its check does the work
      case 'literal':
      case 'enum': {
        const values: unknown[] = def.type === 'literal' ? def.values : [...(schema._zod.values as Set<unknown>)];
        for (const x of values) {
          if (!(x === null || x === undefined || ['string', 'boolean'].includes(typeof x) || (typeof x === 'number' && !Number.isNaN(x)))) {
            throw new Unsupported(`${where}: a ${def.type} of ${typeof x}`);
          }
        }
        const m = this.message({ code: 'invalid_value', values }, schema, schema, where);
        const cond = values.length === 0 ? 'true' : values.map((x) => `v !== ${x === undefined ? 'undefined' : JSON.stringify(x)}`).join(' && ');
        return [`if (${cond}) I.push({ code: 'invalid_value', path: P.slice(), message: ${m} });`];
      }
      case 'object':
        return this.#object(schema, where);
      case 'array':
        return this.#array(schema, where);
      case 'record':
        return this.#record(schema, where);
      case 'union':
        if (traits.has('$ZodXor') || (def.inclusive === false && def.discriminator === undefined)) throw new Unsupported(`${where}: z.xor`);
        return def.discriminator === undefined ? this.#union(schema, where) : this.#discriminated(schema, where);
      case 'optional': {
        const inner = def.innerType as Schema;
        const f = this.fn(inner, where);
        if (traits.has('$ZodExactOptional')) return [`o = ${f}(v, I, P);`];
        if (inner._zod.optin !== 'defaulted') return [`if (v !== undefined) o = ${f}(v, I, P);`];
        return [`if (v !== undefined) o = ${f}(v, I, P);`, `else { const J: RawIssue[] = []; const r = ${f}(v, J, P); o = J.length > 0 ? undefined : r; }`];
      }
      case 'nullable':
        return [`if (v !== null) o = ${this.fn(def.innerType, where)}(v, I, P);`];
      case 'default': {
        const f = this.fn(def.innerType, where);
        const d = this.#defaultValue(def, where);
        return [`if (v === undefined) o = ${d};`, `else { o = ${f}(v, I, P); if (o === undefined) o = ${d}; }`];
      }
      default:
        throw new Unsupported(`${where}: z.${def.type as string}`);
    }
  }

  /** A default as a fresh literal every time it is used (zod copies it too). */
  #defaultValue(def: Any, where: string): string {
    const value: unknown = def.defaultValue;
    const json = JSON.stringify(value);
    if (json === undefined || !isDeepStrictEqual(JSON.parse(json), value) || json.includes('"__proto__"')) {
      throw new Unsupported(`${where}: a default that is not plain JSON`);
    }
    return `(${json})`;
  }

  #object(schema: Schema, where: string): string[] {
    const def = schema._zod.def as Any;
    const shape = def.shape as Record<PropertyKey, Schema>;
    const keys = Reflect.ownKeys(shape);
    if (keys.some((k) => typeof k !== 'string')) throw new Unsupported(`${where}: a symbol key`);
    const catchall = def.catchall as Schema | undefined;
    const strict = catchall !== undefined && (catchall._zod.def as Any).type === 'never';
    if (catchall !== undefined && !strict) throw new Unsupported(`${where}: an object with a catchall (only strict and plain objects)`);
    const fields: string[] = [];
    let usesN = false;
    let usesR = false;
    for (const key of keys as string[]) {
      if (key === '__proto__') continue;
      const child = shape[key]!;
      const f = this.fn(child, `${where}.${key}`);
      const k = JSON.stringify(key);
      const { optin, optout } = child._zod;
      if (optin === 'optional' && optout === 'optional') {
        fields.push(`  if (${k} in v) { P.push(${k}); o[${k}] = ${f}(v[${k}], I, P); P.pop(); }`);
      } else if (optin === undefined) {
        usesN = usesR = true;
        const m = this.message({ code: 'invalid_type', expected: 'nonoptional', input: undefined }, undefined, undefined, where);
        fields.push(
          `  P.push(${k}); n = I.length; r = ${f}(v[${k}], I, P); P.pop();`,
          `  if (${k} in v) o[${k}] = r;`,
          `  else if (I.length === n) I.push({ code: 'invalid_type', path: [...P, ${k}], message: ${m} });`,
        );
      } else if (optout === 'optional') {
        usesN = usesR = true;
        fields.push(
          `  P.push(${k}); n = I.length; r = ${f}(v[${k}], I, P); P.pop();`,
          `  if (!(${k} in v) && I.length !== n) I.length = n;`,
          `  else if (r !== undefined || ${k} in v) o[${k}] = r;`,
        );
      } else if (optin === 'defaulted') {
        fields.push(`  P.push(${k}); o[${k}] = ${f}(v[${k}], I, P); P.pop();`);
      } else {
        usesR = true;
        fields.push(`  P.push(${k}); r = ${f}(v[${k}], I, P); P.pop();`, `  if (r !== undefined || ${k} in v) o[${k}] = r;`);
      }
    }
    const out = [`if (!isObject(v)) ${this.typeIssue('object', schema, where)}`, 'else {', '  o = {};'];
    if (usesN) out.push('  let n: number;');
    if (usesR) out.push('  let r: any;');
    out.push(...fields);
    if (strict) {
      const cases = (keys as string[]).map((k) => `case ${JSON.stringify(k)}: `).join('');
      out.push(
        '  let u: string[] | undefined;',
        `  for (const k in v) switch (k) { ${cases}break; default: (u ??= []).push(k); }`,
        "  if (u !== undefined) I.push({ code: 'unrecognized_keys', path: P.slice(), keys: u, message: unrecognized(u), continue: true });",
      );
    }
    out.push('}');
    return out;
  }

  #array(schema: Schema, where: string): string[] {
    const def = schema._zod.def as Any;
    const f = this.fn(def.element, `${where}[]`);
    const out = [`if (!Array.isArray(v)) ${this.typeIssue('array', schema, where)}`];
    // zod's capSize: past the smallest of the leading maximums, the elements are not parsed.
    const caps: [number, Any][] = [];
    for (const ch of (def.checks ?? []) as Any[]) {
      const d = ch._zod.def;
      if (!/_(length|size)$|_equals$/.test(d.check)) break;
      const max = d.maximum ?? d.length ?? d.size;
      if (max >= 0) {
        if (d.check !== 'max_length') throw new Unsupported(`${where}: an array ${d.check as string} check`);
        caps.push([max, ch]);
      }
    }
    if (caps.length > 0) {
      const cap = Math.min(...caps.map((c) => c[0]));
      out.push(`else if (v.length > ${cap}) {`);
      caps.forEach(([max, ch], i) => {
        const m = this.message({ code: 'too_big', origin: 'array', maximum: max, inclusive: true }, ch, schema, where);
        out.push(`  ${i > 0 ? 'else ' : ''}if (v.length > ${max}) I.push({ code: 'too_big', path: P.slice(), message: ${m}, continue: false });`);
      });
      out.push('}');
    }
    out.push('else {', '  o = new Array(v.length);', `  for (let i = 0; i < v.length; i++) { P.push(i); o[i] = ${f}(v[i], I, P); P.pop(); }`, '}');
    return out;
  }

  #record(schema: Schema, where: string): string[] {
    const def = schema._zod.def as Any;
    const keyType = def.keyType as Schema;
    const kd = keyType._zod.def as Any;
    if (kd.type !== 'string' || kd.coerce || keyType._zod.values !== undefined || (def.mode !== undefined && def.mode !== 'strict')) {
      throw new Unsupported(`${where}: a record whose keys are not plain strings`);
    }
    const fk = this.fn(keyType, `${where} (key)`);
    const fv = this.fn(def.valueType, `${where}{}`);
    const m = this.message({ code: 'invalid_key', origin: 'record' }, schema, schema, where);
    return [
      `if (!isPlainObject(v)) ${this.typeIssue('record', schema, where)}`,
      'else {',
      '  o = {};',
      '  for (const k of Reflect.ownKeys(v)) {',
      "    if (k === '__proto__' || !propertyIsEnumerable.call(v, k)) continue;",
      `    const J: RawIssue[] = []; const kk = ${fk}(k, J, []);`,
      `    if (J.length > 0) { I.push({ code: 'invalid_key', path: [...P, k], issues: J, message: ${m} }); continue; }`,
      "    if (kk === '__proto__') continue;",
      `    P.push(k); o[kk] = ${fv}(v[k], I, P); P.pop();`,
      '  }',
      '}',
    ];
  }

  #union(schema: Schema, where: string): string[] {
    const def = schema._zod.def as Any;
    const options = def.options as Schema[];
    const fs = options.map((o, i) => this.fn(o, `${where} (option ${i})`));
    if (fs.length === 1) return [`o = ${fs[0]!}(v, I, P);`];
    const m = this.message({ code: 'invalid_union', errors: [] }, schema, schema, where);
    const out: string[] = [`const J: RawIssue[][] = [], R: any[] = [];`];
    let indent = '';
    fs.forEach((f, i) => {
      out.push(`${indent}J.push([]); R.push(${f}(v, J[${i}]!, P));`, `${indent}if (J[${i}]!.length === 0) o = R[${i}];`, `${indent}else {`);
      indent += '  ';
    });
    out.push(`${indent}o = unionFailed(I, P, J, R, v, ${m});`);
    for (let i = 0; i < fs.length; i++) {
      indent = indent.slice(2);
      out.push(`${indent}}`);
    }
    return out;
  }

  #discriminated(schema: Schema, where: string): string[] {
    const def = schema._zod.def as Any;
    if (def.unionFallback) throw new Unsupported(`${where}: a discriminated union with unionFallback`);
    const disc = def.discriminator as string;
    // zod's discriminatorMap: a value claimed twice (only undefined may be) belongs to no option.
    const map = new Map<unknown, Schema | null>();
    for (const option of def.options as Schema[]) {
      const values = (option._zod as Any).propValues?.[disc] as Set<unknown> | undefined;
      if (!values || values.size === 0) throw new Unsupported(`${where}: an option without the discriminator`);
      for (const value of values) map.set(value, map.has(value) ? null : option);
    }
    const cases: string[] = [];
    for (const [value, option] of map) {
      if (option === null) continue;
      if (!(value === undefined || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && !Number.isNaN(value)))) {
        throw new Unsupported(`${where}: a discriminator value of ${typeof value}`);
      }
      const label = value === undefined ? 'undefined' : JSON.stringify(value);
      cases.push(`  case ${label}: o = ${this.fn(option, `${where} (${disc} ${label})`)}(v, I, P); break;`);
    }
    const options = [...map.keys()].filter((k) => map.get(k) !== null);
    const m = this.message({ code: 'invalid_union', errors: [], note: 'No matching discriminator', discriminator: disc, options }, schema, schema, where);
    return [
      `if (!isObject(v)) ${this.typeIssue('object', schema, where)}`,
      `else switch (v[${JSON.stringify(disc)}]) {`,
      ...cases,
      `  default: I.push({ code: 'invalid_union', path: [...P, ${JSON.stringify(disc)}], errors: [], message: ${m} });`,
      '}',
    ];
  }

  #check(check: Any, owner: Schema, where: string): string[] {
    const d = check._zod.def as Any;
    const cont = d.abort ? 'false' : 'true';
    const lengthWhen = d.check === 'min_length' || d.check === 'max_length';
    if (d.when !== undefined && !(lengthWhen && d.when.name === '_whenHasLength')) throw new Unsupported(`${where}: a check with its own "when"`);
    const gate = 'if (!aborted(I, s)) ';
    switch (d.check as string) {
      case 'less_than':
      case 'greater_than': {
        if (typeof d.value !== 'number') throw new Unsupported(`${where}: a ${d.check as string} of ${typeof d.value}`);
        const big = d.check === 'less_than';
        const op = big ? (d.inclusive ? '<=' : '<') : d.inclusive ? '>=' : '>';
        const issue = big
          ? { code: 'too_big', origin: 'number', maximum: d.value, inclusive: d.inclusive }
          : { code: 'too_small', origin: 'number', minimum: d.value, inclusive: d.inclusive };
        const m = this.message(issue, check, owner, where);
        return [`${gate}{ if (!(o ${op} ${d.value})) I.push({ code: '${issue.code}', path: P.slice(), message: ${m}, continue: ${cont} }); }`];
      }
      case 'number_format': {
        const range = (z.core.util.NUMBER_FORMAT_RANGES as Record<string, [number, number]>)[d.format];
        if (range === undefined) throw new Unsupported(`${where}: number format ${d.format as string}`);
        const [min, max] = range;
        const isInt = String(d.format).includes('int');
        const origin = isInt ? 'int' : 'number';
        const inRange = () => [
          `if (o < ${min}) I.push({ code: 'too_small', path: P.slice(), message: ${this.message({ code: 'too_small', origin: 'number', minimum: min, inclusive: true }, check, owner, where)}, continue: ${cont} });`,
          `if (o > ${max}) I.push({ code: 'too_big', path: P.slice(), message: ${this.message({ code: 'too_big', origin: 'number', maximum: max, inclusive: true }, check, owner, where)}, continue: ${cont} });`,
        ];
        if (!isInt) return [`${gate}{`, ...inRange().map((l) => `  ${l}`), '}'];
        const t = this.typeMessage(origin, check, owner, where, 'o');
        const note = 'Integers must be within the safe integer range.';
        const unsafeBig = this.message({ code: 'too_big', origin, maximum: Number.MAX_SAFE_INTEGER, inclusive: true, note }, check, owner, where);
        const unsafeSmall = this.message({ code: 'too_small', origin, minimum: Number.MIN_SAFE_INTEGER, inclusive: true, note }, check, owner, where);
        return [
          `${gate}{`,
          `  if (!Number.isInteger(o)) I.push({ code: 'invalid_type', path: P.slice(), message: ${t}, continue: false });`,
          `  else if (!Number.isSafeInteger(o)) I.push(o > 0 ? { code: 'too_big', path: P.slice(), message: ${unsafeBig}, continue: ${cont} } : { code: 'too_small', path: P.slice(), message: ${unsafeSmall}, continue: ${cont} });`,
          // A safe integer is within the safeint range: zod's range check cannot fail then.
          ...(d.format === 'safeint' ? [] : ['  else {', ...inRange().map((l) => `    ${l}`), '  }']),
          '}',
        ];
      }
      case 'min_length':
      case 'max_length': {
        const min = d.check === 'min_length';
        const bound: number = min ? d.minimum : d.maximum;
        const code = min ? 'too_small' : 'too_big';
        const ms = (['string', 'array', 'unknown'] as const).map((origin) =>
          this.message(min ? { code, origin, minimum: bound, inclusive: true } : { code, origin, maximum: bound, inclusive: true }, check, owner, where),
        );
        const messages = this.const(`[${ms.join(', ')}] as const`);
        const measure = min
          ? `typeof o === 'string' && u >= ${bound} && u < ${bound * 2} ? codePoints(o) : u`
          : `typeof o === 'string' && u > ${bound} ? codePoints(o) : u`;
        return [
          `if (!explicitlyAborted(I, s) && o != null && o.length !== undefined) {`,
          `  const u = o.length; const n = ${measure};`,
          `  if (!(n ${min ? '>=' : '<='} ${bound})) I.push({ code: '${code}', path: P.slice(), message: ${messages}[lengthOrigin(o)], continue: ${cont} });`,
          '}',
        ];
      }
      case 'string_format': {
        if (!PATTERN_FORMATS.has(d.format) || !(d.pattern instanceof RegExp)) throw new Unsupported(`${where}: string format ${d.format as string}`);
        const re = d.pattern as RegExp;
        const name = this.const(re.toString());
        const m = this.message({ code: 'invalid_format', origin: 'string', format: d.format, pattern: re.toString() }, check, owner, where);
        const reset = re.global || re.sticky ? `${name}.lastIndex = 0; ` : '';
        return [`${gate}{ ${reset}if (!${name}.test(o)) I.push({ code: 'invalid_format', path: P.slice(), message: ${m}, continue: ${cont} }); }`];
      }
      case 'custom': {
        const name = d.params?.refinement as string | undefined;
        if (name === undefined || !Object.hasOwn(REFINEMENTS, name)) {
          throw new Unsupported(`${where}: a refinement that is not one of shared/schema/refinements.ts (attach it with refinement() of shared/schema/refine.ts)`);
        }
        this.refinements.add(name);
        const path = ((d.path ?? []) as unknown[]).map((p) => JSON.stringify(p)).join(', ');
        return [`${gate}{ const m = REFINEMENTS.${name}(o); if (m !== undefined) I.push({ code: 'custom', path: ${path ? `[...P, ${path}]` : 'P.slice()'}, message: m, continue: ${cont} }); }`];
      }
      default:
        throw new Unsupported(`${where}: a ${d.check as string} check`);
    }
  }

  source(roots: readonly Root[], header: string): string {
    const exports = roots.map((r) => {
      const f = this.fn(r.schema, r.name);
      return `/** Validates a ${r.name} as its zod schema does (defaults filled in). */\nexport function check${r.name}(input: unknown): Checked<${r.type}> {\n  const I: RawIssue[] = [];\n  const value = ${f}(input, I, []);\n  return I.length === 0 ? { ok: true, value } : { ok: false, issues: I };\n}`;
    });
    const types = new Map<string, string[]>();
    for (const r of roots) if (r.typeFrom) types.set(r.typeFrom.module, [...new Set([...(types.get(r.typeFrom.module) ?? []), ...r.typeFrom.names])]);
    const imports = [
      ...[...types].map(([from, names]) => `import type { ${names.sort().join(', ')} } from '${from}';`),
      ...(this.refinements.size > 0 ? ["import { REFINEMENTS } from '../refinements.ts';"] : []),
      "import { type Checked, type Key, type RawIssue, aborted, codePoints, explicitlyAborted, isObject, isPlainObject, lengthOrigin, propertyIsEnumerable, received, unionFailed, unrecognized } from './runtime.ts';",
    ];
    return `${header}\n${imports.join('\n')}\n\n${this.#constLines.join('\n')}\n\n${this.#functions.join('\n\n')}\n\n${exports.join('\n\n')}\n`;
  }
}

function messageOf(issue: Record<string, unknown>, raiser: Any, owner: Any): string {
  const cfg = z.config() as Any;
  const unwrap = (m: unknown): string | undefined => (typeof m === 'string' ? m : (m as { message?: string } | undefined)?.message);
  const iss = { ...issue, inst: raiser };
  return (
    unwrap(raiser?._zod?.def?.error?.(iss)) ??
    (owner !== raiser ? unwrap(owner?._zod?.def?.error?.(iss)) : undefined) ??
    unwrap(cfg.customError?.(iss)) ??
    unwrap(cfg.localeError?.(iss)) ??
    'Invalid input'
  );
}

/** The checks zod runs after a schema's parse: the schema itself first when it is a check too (z.int(), formats). */
function checksOf(schema: Schema): Any[] {
  const own = ((schema._zod.def as Any).checks ?? []) as Any[];
  return schema._zod.traits.has('$ZodCheck') ? [schema, ...own] : own;
}

/**
 * The TypeScript module of validators for `roots`. Throws, naming the schema path, on a zod
 * construct the compiler does not mirror.
 */
export function emitValidators(roots: readonly Root[], header: string): string {
  const e = new Emitter();
  try {
    return e.source(roots, header);
  } catch (err) {
    if (err instanceof Unsupported) throw new Error(`validator compiler: ${err.message}`);
    throw err;
  }
}
