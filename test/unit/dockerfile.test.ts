/**
 * The Dockerfile's steps, checked without a Docker engine: a multi-stage build on the official
 * Node 24 image whose build stage runs `npm ci` and `npm run build` with every file the bundle is
 * made of in its context (COPY'd, not dockerignored), whose runtime stage takes only files that
 * build produced, runs the file `npm run build` makes, as a numeric non-root user, and has no
 * HEALTHCHECK (Kubernetes probes /healthz and /readyz).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRELOAD_IN_IMAGE } from '../../deploy/inject/propagate.ts';
import { IMAGE_ENV } from '../../deploy/node-options.ts';
import { COPIED, IMAGE_NODE_FLAGS } from '../../scripts/build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Instruction {
  op: string;
  args: string;
}
interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}
interface Stage {
  image: string;
  name?: string;
  steps: Instruction[];
}

/** Instructions in order: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

function stagesOf(steps: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const s of steps) {
    if (s.op === 'FROM') {
      const [image, as, name] = s.args.split(/\s+/);
      stages.push({ image: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, steps: [] });
    } else {
      if (stages.length === 0) throw new Error(`${s.op} before FROM`);
      stages.at(-1)!.steps.push(s);
    }
  }
  return stages;
}

function parseCopy(args: string): Copy {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** The working directory in effect before step `i` of a stage. */
function workdirAt(stage: Stage, i: number): string {
  let wd = '/';
  for (const s of stage.steps.slice(0, i)) if (s.op === 'WORKDIR') wd = posix.resolve(wd, s.args);
  return wd;
}

/** .dockerignore patterns as Docker applies them: from the context root, `*` within one path segment, `**` across. */
function dockerignored(patterns: string[], path: string): boolean {
  const parts = path.split('/');
  return patterns.some((p) => {
    const re = new RegExp(
      `^${p
        .replace(/^\/+|\/+$/g, '')
        .split('**')
        .map((x) => x.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
        .join('.*')}$`,
    );
    // A pattern that matches a directory excludes everything below it.
    return parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')));
  });
}

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const stages = stagesOf(dockerfile);
const final = stages.at(-1)!;
const buildStages = stages.slice(0, -1);
const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

/** What `npm run build` produces, built once here, with the list of files it was made from. */
let outdir: string;
let inputs: string[];
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'dyeline-dockerfile-'));
  execFileSync(process.execPath, ['scripts/build.ts', '--outdir', outdir], { cwd: ROOT, stdio: 'ignore' });
  inputs = Object.keys((JSON.parse(readFileSync(join(outdir, 'meta.json'), 'utf8')) as { inputs: Record<string, unknown> }).inputs);
}, 60_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('Dockerfile', () => {
  it('is multi-stage on the official Node 24 image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.image, `FROM ${s.image}`).toMatch(/^node:24-[a-z0-9.-]+$/);
    expect(buildStages.every((s) => s.name !== undefined)).toBe(true);
  });

  it('the build stage installs with npm ci and runs npm run build, which is scripts/build.ts writing dist/', () => {
    const build = buildStages.at(-1)!;
    const runs = build.steps.filter((s) => s.op === 'RUN').map((s) => s.args);
    expect(runs.some((r) => /^npm ci\b/.test(r))).toBe(true);
    expect(runs.at(-1)).toBe('npm run build');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBe('node scripts/build.ts');
    expect(readFileSync(join(ROOT, 'scripts/build.ts'), 'utf8')).toMatch(/default: join\(ROOT, 'dist'\)/);
  });

  it('every COPY source from the build context exists and is not dockerignored', () => {
    for (const stage of stages)
      for (const step of stage.steps.filter((s) => s.op === 'COPY')) {
        const c = parseCopy(step.args);
        if (c.from !== undefined) continue;
        for (const src of c.sources) {
          expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
          expect(dockerignored(ignore, src.replace(/^\.\//, '')), `COPY ${src} is dockerignored`).toBe(false);
        }
      }
  });

  it('every file the bundle is made of reaches the build stage before npm run build', () => {
    const build = buildStages.at(-1)!;
    const buildAt = build.steps.findIndex((s) => s.op === 'RUN' && s.args === 'npm run build');
    const copied = build.steps
      .slice(0, buildAt)
      .filter((s) => s.op === 'COPY' && parseCopy(s.args).from === undefined)
      .flatMap((s) => parseCopy(s.args).sources.map((x) => x.replace(/^\.\//, '').replace(/\/$/, '')));
    // node_modules comes from `npm ci` on the copied package-lock.json; `builtin:node:…` inputs are
    // the build's own shims of Node built-ins, not files.
    const files = inputs.filter((f) => !f.startsWith('node_modules/') && !/^[a-z-]+:/.test(f));
    const own = [...files, ...Object.values(COPIED), 'scripts/build.ts', 'package.json', 'package-lock.json'];
    expect(own.length).toBeGreaterThan(50);
    for (const f of own) {
      expect(copied.some((c) => f === c || f.startsWith(`${c}/`)), `${f} is not copied into the build stage`).toBe(true);
      expect(dockerignored(ignore, f), `${f} is dockerignored`).toBe(false);
    }
  });

  it('the runtime stage copies only files the build produced', () => {
    const copies = final.steps.filter((s) => s.op === 'COPY').map((s) => parseCopy(s.args));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const stage = buildStages.find((s) => s.name === c.from);
      expect(stage, `runtime COPY without --from a build stage: ${c.sources.join(' ')}`).toBeDefined();
      const wd = workdirAt(stage!, stage!.steps.length);
      for (const src of c.sources) {
        const rel = posix.relative(posix.join(wd, 'dist'), src);
        expect(rel.startsWith('..') || posix.isAbsolute(rel), `${src} is not under the build's dist/`).toBe(false);
        expect(existsSync(join(outdir, rel)), `${src}: npm run build does not make dist/${rel}`).toBe(true);
      }
    }
  });

  /** The build-stage path the runtime stage's file `target` is copied from (before step `before`). */
  function copiedFrom(target: string, before = final.steps.length): string | undefined {
    for (const s of final.steps.slice(0, before)) {
      if (s.op !== 'COPY') continue;
      const c = parseCopy(s.args);
      const wd = workdirAt(final, final.steps.indexOf(s));
      const build = buildStages.find((b) => b.name === c.from);
      if (!build) continue;
      for (const src of c.sources) {
        const dest = posix.resolve(wd, c.dest.endsWith('/') ? posix.join(c.dest, posix.basename(src)) : c.dest);
        if (dest === target) return posix.relative(workdirAt(build, build.steps.length), src);
      }
    }
    return undefined;
  }

  it('sets the environment the benches and the dist e2e tests run dyeline with (deploy/node-options.ts IMAGE_ENV)', () => {
    const env: Record<string, string> = {};
    for (const s of final.steps.filter((x) => x.op === 'ENV')) {
      for (const pair of s.args.split(/\s+/)) {
        const eq = pair.indexOf('=');
        env[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    }
    expect(env).toEqual(IMAGE_ENV);
  });

  it('runs dist/dyeline.mjs, as copied from the build, with node and the image flags', () => {
    const entry = final.steps.filter((s) => s.op === 'ENTRYPOINT').at(-1);
    expect(entry).toBeDefined();
    const argv = JSON.parse(entry!.args) as string[];
    expect(argv.slice(0, -1)).toEqual(['node', ...IMAGE_NODE_FLAGS]);
    const i = final.steps.indexOf(entry!);
    const target = posix.resolve(workdirAt(final, i), argv.at(-1)!);
    expect(copiedFrom(target, i), `${target} is not the build's dist/dyeline.mjs`).toBe('dist/dyeline.mjs');
    expect(final.steps.some((s) => s.op === 'CMD')).toBe(true);
  });

  it('holds the propagation preload where dyeline inject copies it from, as the build made it', () => {
    expect(copiedFrom(PRELOAD_IN_IMAGE)).toBe(`dist/${Object.keys(COPIED).find((k) => COPIED[k] === 'propagate/propagate.mjs')}`);
    expect(readFileSync(join(outdir, 'propagate.mjs'), 'utf8')).toBe(readFileSync(join(ROOT, 'propagate/propagate.mjs'), 'utf8'));
  });

  it('runs as a numeric non-root user and has no HEALTHCHECK', () => {
    const user = final.steps.filter((s) => s.op === 'USER').at(-1);
    expect(user?.args).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.args.split(':')[0])).toBeGreaterThan(0);
    const entryAt = final.steps.findIndex((s) => s.op === 'ENTRYPOINT');
    expect(final.steps.indexOf(user!)).toBeLessThan(entryAt);
    expect(dockerfile.some((s) => s.op === 'HEALTHCHECK')).toBe(false);
  });
});
