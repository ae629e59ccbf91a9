/** `dyeline validate` as users run it: exit codes and messages (contract §1), JSON Schema output. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DYELINE_BIN } from '../support/process.ts';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [DYELINE_BIN, ...args], { encoding: 'utf8' });
const runEnv = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [DYELINE_BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('dyeline validate', () => {
  it('exits 0 on the contract example', () => {
    const r = run('validate', `${fixtures}rules-valid`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/3 document\(s\), 0 problem\(s\)/);
    expect(r.status).toBe(0);
  });

  it('exits 1 and names file, document, field path and reason', () => {
    const r = run('validate', `${fixtures}rules-invalid/bad.yaml`);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('bad.yaml#0 (orders): spec.timeout: unknown field');
    expect(r.stdout).toContain('bad.yaml#0 (orders): spec.split: split weights must sum to 100');
  });

  it('reads switches from DYELINE_<FLAG>: true/1 on, false/0 off, anything else exit 2 naming the variable', () => {
    expect(JSON.parse(runEnv({ DYELINE_JSON: 'true' }, 'validate', `${fixtures}rules-valid`).stdout)).toMatchObject({ valid: true });
    expect(JSON.parse(runEnv({ DYELINE_JSON: '1' }, 'validate', `${fixtures}rules-valid`).stdout)).toMatchObject({ valid: true });
    expect(runEnv({ DYELINE_JSON: 'false' }, 'validate', `${fixtures}rules-valid`).stdout).toMatch(/3 document\(s\), 0 problem\(s\)/);
    const bad = runEnv({ DYELINE_JSON: 'maybe' }, 'validate', `${fixtures}rules-valid`);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('dyeline: DYELINE_JSON: expected true or false, got "maybe"\n');
  });

  it('reports problems as JSON', () => {
    const r = run('validate', '--json', `${fixtures}rules-invalid`);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { valid: boolean; findings: { path: string }[] };
    expect(out.valid).toBe(false);
    expect(out.findings.map((f) => f.path)).toContain('spec.timeout');
  });

  it('exits 2 on usage errors', () => {
    expect(run('validate').status).toBe(2);
    const r = run('validate', '/no/such/dir');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no such file or directory: \/no\/such\/dir/);
    expect(run('validate', '--bogus', fixtures).status).toBe(2);
  });

  it('prints a JSON Schema editors can use, with defaults and docs', () => {
    const r = run('validate', '--print-schema');
    expect(r.status).toBe(0);
    const schema = JSON.parse(r.stdout) as { anyOf: { properties: { kind: { const: string }; spec: unknown } }[] };
    expect(schema.anyOf.map((s) => s.properties.kind.const)).toEqual(['Lane', 'Service', 'Instance']);
    const text = r.stdout;
    expect(text).toContain('"additionalProperties": false');
    expect(text).toContain('Overall deadline of a request to this service');
    expect(text).toMatch(/"default": 15000/);
  });

  it('--help works on every subcommand', () => {
    for (const sub of ['daemon', 'agent', 'validate', 'explain', 'inject', 'demo']) {
      const r = run(sub, '--help');
      expect(r.status, sub).toBe(0);
      expect(r.stdout, sub).toMatch(/Usage: dyeline/);
    }
  });
});
