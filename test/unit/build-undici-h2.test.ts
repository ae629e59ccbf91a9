/**
 * The build's undici Client requires its HTTP/2 code on the first connection that negotiates h2
 * (scripts/build.ts lazyUndiciH2, docs/footprint.md#the-build): bundled as the production build
 * bundles it, loading the Client loads no `node:http2`, and an `allowH2` Client still speaks h2
 * to a real TLS server.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOptions, bundleOptions, lazyUndiciH2 } from '../../scripts/build.ts';
import { type TlsSet, tlsSet } from '../support/certs.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Loads undici's Client, reports whether node:http2 came with it, then makes one h2 request through it. */
const ENTRY = `
import { readFileSync } from 'node:fs';
import Client from 'undici/lib/dispatcher/client.js';
import request from 'undici/lib/api/api-request.js';
const loaded = () => process.moduleLoadList.includes('NativeModule http2');
const out = { http2WithClient: loaded() };
const [caFile, certFile, keyFile] = process.argv.slice(2);
const http2 = require('node:http2');
const server = http2.createSecureServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
  res.end('over ' + req.httpVersion);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const client = new Client('https://127.0.0.1:' + server.address().port, { allowH2: true, connect: { ca: readFileSync(caFile) } });
const res = await request.call(client, { path: '/', method: 'GET' });
out.status = res.statusCode;
out.body = await res.body.text();
await client.close();
server.close();
process.stdout.write(JSON.stringify(out));
`;

let dir: string;
let tls: TlsSet;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-build-h2-'));
  tls = tlsSet(join(dir, 'tls'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('the production build includes the plugin', () => {
  expect(buildOptions(dir).plugins?.map((p) => p.name)).toContain('lazy-undici-h2');
});

it('loads no node:http2 with the Client and still speaks h2 when ALPN picks it', async () => {
  const opts = bundleOptions({}, dir);
  await esbuild.build({ ...opts, entryPoints: undefined, stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'h2-entry.mjs', loader: 'js' }, outfile: join(dir, 'h2.mjs'), outdir: undefined, plugins: [lazyUndiciH2()] });
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [join(dir, 'h2.mjs'), tls.caFile, tls.serverCertFile, tls.serverKeyFile], { timeout: 30_000, encoding: 'utf8' }, (err, out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out)));
  });
  expect(JSON.parse(stdout)).toEqual({ http2WithClient: false, status: 200, body: 'over 2.0' });
});
