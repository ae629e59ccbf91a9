/**
 * Flag plumbing shared by every subcommand: each flag also reads `DYELINE_<FLAG>` (docs/reference.md#commands),
 * a flag wins over the variable, and a bad value is a UsageError (exit 2, one line).
 */
import { Command, Option } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { checkServiceName } from '../shared/schema/validators/generated.ts';

/** `--app-port` → `DYELINE_APP_PORT`. */
export function envName(flag: string): string {
  return `DYELINE_${flag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`;
}

/** An option bound to its environment variable. `flags` is commander syntax, e.g. '--app-port <PORT>'. */
export function option(flags: string, description: string, defaultValue?: string | string[]): Option {
  const long = /--[a-z0-9-]+/.exec(flags)?.[0];
  if (!long) throw new Error(`option without a long flag: ${flags}`);
  const o = new Option(flags, description).env(envName(long));
  if (defaultValue !== undefined) o.default(defaultValue);
  return o;
}

/** Collects a repeatable option (a value from the environment is split by splitEnvList where the command allows several). */
export function repeatable(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Splits a repeatable option that came from the environment (`a b` or newline-separated). */
export function splitEnvList(values: string[] | string | undefined): string[] {
  if (values === undefined) return [];
  const list = Array.isArray(values) ? values : [values];
  return list.flatMap((v) => v.split(/\s+/)).filter((v) => v.length > 0);
}

/** A subcommand with the common settings applied. */
export function subcommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .allowExcessArguments(false)
    .configureHelp({ showGlobalOptions: false });
}

/**
 * Boolean flags read `DYELINE_<FLAG>` too: `true`/`1` turn the flag on, `false`/`0`/empty leave
 * it off, anything else is a usage error (commander alone would turn it on for any value).
 */
export function envBooleans(cmd: Command): void {
  for (const o of cmd.options) {
    const envVar = o.envVar;
    if (o.required || o.optional || o.negate || envVar === undefined) continue;
    cmd.on(`optionEnv:${o.name()}`, () => {
      const raw = process.env[envVar] ?? '';
      const v = raw.trim().toLowerCase();
      if (v === 'false' || v === '0' || v === '') cmd.setOptionValueWithSource(o.attributeName(), false, 'env');
      else if (v !== 'true' && v !== '1') throw new UsageError(`${envVar}: expected true or false, got "${raw}"`);
    });
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A `-H 'name: value'` flag → [name, value]; throws UsageError naming -H/--header. */
export function headerFlag(v: string): [string, string] {
  const colon = v.indexOf(':');
  const name = colon < 0 ? '' : v.slice(0, colon).trim();
  if (!TOKEN.test(name)) throw new UsageError(`-H/--header: expected 'name: value', got ${JSON.stringify(v)}`);
  return [name, v.slice(colon + 1).trim()];
}

/** A service name flag (undefined when absent and not required); throws UsageError naming `flag`. */
export function serviceFlag(flag: string, value: string | undefined, required: boolean): string | undefined {
  if (value === undefined || value === '') {
    if (required) throw new UsageError(`${flag}: expected a service name (required)`);
    return undefined;
  }
  if (!checkServiceName(value).ok) throw new UsageError(`${flag}: expected a service name (lowercase letters, digits, "-", "_"), got ${JSON.stringify(value)}`);
  return value;
}
