/**
 * docs/reference.md stays true where a machine can check it: every flag each subcommand's
 * `--help` lists (with its variable and default) is in the section the Commands table links for
 * that command; every metric the code defines is in the Metrics section (and nothing there
 * that the code does not define); every error the agent answers with is in the Agent section
 * with its status and `x-dyeline-error` value.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, ErrorCode } from '../../shared/errors.ts';
import { DYELINE_BIN } from '../support/process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = readFileSync(`${ROOT}docs/reference.md`, 'utf8');
const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;

// ---------------------------------------------------------------- the page

interface Section {
  level: number;
  slug: string;
  text: string;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces → '-'. */
function slugOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every heading of `md` (outside code fences) with the text up to the next heading of its level or above. */
function sectionsOf(md: string): Section[] {
  const lines = md.split('\n');
  const heads: { level: number; slug: string; line: number }[] = [];
  let fenced = false;
  lines.forEach((l, i) => {
    if (l.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^(#{1,6}) (.+)$/.exec(l);
    if (m) heads.push({ level: m[1]!.length, slug: slugOf(m[2]!), line: i });
  });
  return heads.map((h, k) => {
    const next = heads.slice(k + 1).find((n) => n.level <= h.level);
    return { level: h.level, slug: h.slug, text: lines.slice(h.line, next?.line ?? lines.length).join('\n') };
  });
}

const SECTIONS = sectionsOf(PAGE);

function section(slug: string): string {
  const s = SECTIONS.find((x) => x.slug === slug);
  if (s === undefined) throw new Error(`docs/reference.md has no section #${slug}`);
  return s.text;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `name` as a whole token (not part of a longer metric or code name). */
const token = (name: string) => new RegExp(`(?<![A-Za-z0-9_])${escape(name)}(?![A-Za-z0-9_])`);

// ---------------------------------------------------------------- the CLI's help

interface HelpOption {
  long: string;
  short: string | undefined;
  env: string | undefined;
  default: string | undefined;
}

const run = promisify(execFile);

async function help(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [DYELINE_BIN, ...args, '--help'], { encoding: 'utf8', timeout: 30_000 });
  return stdout;
}

/** The lines of a help block (`Options:`, `Commands:`) up to the blank line that ends it. */
function block(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(title);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines.slice(start + 1, end < 0 ? lines.length : end);
}

/** Subcommands listed by `dyeline --help`. */
function commandsOf(text: string): string[] {
  return block(text, 'Commands:')
    .map((l) => /^ {2}([a-z][a-z0-9-]*)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && c !== 'help');
}

/** Options listed by `dyeline <cmd> --help` (without --help), each with its variable and default. */
function optionsOf(text: string): HelpOption[] {
  const entries: string[] = [];
  for (const l of block(text, 'Options:')) {
    if (/^ {2}-/.test(l)) entries.push(l.trim());
    else if (entries.length > 0) entries[entries.length - 1] += ` ${l.trim()}`;
  }
  return entries
    .map((e) => ({
      long: /--[a-z0-9-]+/.exec(e)![0],
      short: /^(-[A-Za-z]),/.exec(e)?.[1],
      env: /env: ([A-Z0-9_]+)/.exec(e)?.[1],
      default: /default: "((?:[^"\\]|\\.)*)"/.exec(e)?.[1]?.replaceAll(VERSION, '<version>'),
    }))
    .filter((o) => o.long !== '--help' && o.long !== '--version');
}

/** The section the Commands table links as the place of `command`'s flags. */
function commandSection(command: string): string {
  const row = section('commands')
    .split('\n')
    .find((l) => new RegExp(`^\\| \`dyeline ${escape(command)}(?![a-z0-9-])`).test(l));
  if (row === undefined) throw new Error(`the Commands table has no row for dyeline ${command}`);
  const anchor = /\]\(#([a-z0-9-]+)\)/.exec(row)?.[1];
  if (anchor === undefined) throw new Error(`the Commands row of dyeline ${command} links no section`);
  return section(anchor);
}

/** Table rows of `text` whose first cell documents `flag` (e.g. "| `--app-port PORT` |"). */
function flagRows(text: string, flag: string): string[] {
  const cell = new RegExp(`^\\| [^|]*\`${escape(flag)}[ \`]`);
  return text.split('\n').filter((l) => cell.test(l));
}

// ---------------------------------------------------------------- metrics the code defines

const DEFINITION = /\b(?:create(?:Observable)?(?:Counter|UpDownCounter|Gauge|Histogram)|HistogramFamily)\s*\(\s*(['"`])([A-Za-z_:][A-Za-z0-9_:]*)\1/g;
const NAME_LITERAL = /(['"])(dyeline_[a-z0-9_]+)\1/g;

/** Metric names defined in the production sources under `dir` (instrument calls and dyeline_* string literals). */
function metricsDefinedIn(dir: string): Set<string> {
  const names = new Set<string>();
  for (const file of readdirSync(`${ROOT}${dir}`, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    const src = readFileSync(`${ROOT}${dir}/${file}`, 'utf8');
    for (const m of src.matchAll(DEFINITION)) names.add(m[2]!);
    for (const m of src.matchAll(NAME_LITERAL)) names.add(m[2]!);
  }
  return names;
}

// ---------------------------------------------------------------- tests

describe('docs/reference.md', () => {
  let commands: string[] = [];
  const helps = new Map<string, string>();

  beforeAll(async () => {
    commands = commandsOf(await help());
    const texts = await Promise.all(commands.map((c) => help(c)));
    commands.forEach((c, i) => helps.set(c, texts[i]!));
  });

  it('has the sections other pages and code comments cite', () => {
    for (const anchor of ['commands', 'daemon', 'agent', 'colour-and-trace-propagation', 'routing', 'rule-documents', 'metrics', 'traces-and-logs', 'explain', 'progressive-delivery']) {
      expect(SECTIONS.some((s) => s.level === 2 && s.slug === anchor), `## heading for #${anchor}`).toBe(true);
    }
  });

  it('documents every flag of every subcommand with its variable and default', () => {
    expect(commands.length).toBeGreaterThan(0);
    for (const command of commands) {
      const text = commandSection(command);
      const options = optionsOf(helps.get(command)!);
      expect(options.length, `dyeline ${command} --help lists options`).toBeGreaterThan(0);
      for (const o of options) {
        const rows = flagRows(text, o.long);
        const where = `dyeline ${command} ${o.long}`;
        expect(rows.length, `${where}: a table row in its section`).toBeGreaterThan(0);
        const row = rows.join('\n');
        if (o.short !== undefined) expect(row, `${where}: short form ${o.short}`).toContain(`\`${o.short}\``);
        if (o.env !== undefined) expect(row, `${where}: variable ${o.env}`).toContain(`\`${o.env}\``);
        else expect(row, `${where}: no variable`).toMatch(/^\| [^|]+ \| — \|/);
        if (o.default !== undefined) expect(row, `${where}: default ${o.default}`).toContain(`\`${o.default}\``);
      }
      // No row for a flag the command does not have (any more).
      const known = new Set(options.flatMap((o) => [o.long, o.short]));
      for (const l of text.split('\n')) {
        const m = /^\| `(-[A-Za-z]|--[a-z0-9-]+)[ `]/.exec(l);
        if (m) expect(known.has(m[1]!), `dyeline ${command} has no flag ${m[1]} (documented: ${l})`).toBe(true);
      }
    }
  });

  it('lists every metric the agent, the daemon and the rollout controller define, and no other dyeline_ metric', () => {
    const agent = new Set([...metricsDefinedIn('agent'), ...metricsDefinedIn('shared')]);
    const daemon = metricsDefinedIn('daemon');
    expect(agent.size, 'metric definitions found under agent/ (is the scan still right?)').toBeGreaterThan(0);
    expect(daemon.size, 'metric definitions found under daemon/ (is the scan still right?)').toBeGreaterThan(0);
    const text = section('metrics');
    const agentText = section('agent-metrics');
    const daemonText = section('daemon-metrics');
    for (const name of agent) expect(agentText, `agent metric ${name}`).toMatch(token(name));
    for (const name of daemon) expect(daemonText, `daemon metric ${name}`).toMatch(token(name));
    const controller = metricsDefinedIn('rollout');
    expect(controller.size, 'metric definitions found under rollout/ (is the scan still right?)').toBeGreaterThan(0);
    const controllerText = section('rollout-controller-metrics');
    for (const name of controller) expect(controllerText, `rollout controller metric ${name}`).toMatch(token(name));
    const defined = new Set([...agent, ...daemon, ...controller]);
    for (const m of text.matchAll(/dyeline_[a-z0-9_]+/g)) {
      const name = m[0].replace(/_(bucket|sum|count)$/, '');
      expect(defined.has(name), `${m[0]} is documented but not defined in the code`).toBe(true);
    }
  });

  it('gives status, x-dyeline-error value and code of every error the agent answers with', () => {
    const rows = section('agent').split('\n');
    const answered = Object.entries(ERRORS).filter(([, r]) => r.header !== 'internal');
    expect(answered.length).toBeGreaterThan(0);
    for (const [code, r] of answered) {
      const row = rows.find((l) => l.includes(`\`${code}\``) && l.includes(`\`${r!.header}\``));
      expect(row, `a row with ${code} and x-dyeline-error ${r!.header}`).toBeDefined();
      expect(row!, `${code}: status ${r!.status}`).toMatch(new RegExp(`^\\| ${r!.status} \\|`));
    }
  });

  it('names every error code', () => {
    for (const code of Object.values(ErrorCode)) expect(PAGE, code).toMatch(token(code));
  });
});
