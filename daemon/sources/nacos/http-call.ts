/**
 * One request to a Nacos server's HTTP port outside the v1 clients — the login of the gRPC
 * transport and the v1 probe of `transport=auto` — over http, or over https verified with the
 * source's CA (system roots when it has none) and presenting its client certificate when set
 * (docs/reference.md#nacos-over-grpc).
 */
import http from 'node:http';
import https from 'node:https';
import type { TlsMaterial } from '../../../shared/tls-files.ts';

/** What is sent. */
export interface NacosHttpCall {
  method?: 'GET' | 'POST' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** https with this material; undefined: plain http. */
  tls?: TlsMaterial;
}

/** The answer: status and body text. Rejects when no answer came (see failureReason). */
export function nacosHttpCall(server: string, pathAndQuery: string, o: NacosHttpCall): Promise<{ status: number; text: string }> {
  const url = `${o.tls ? 'https' : 'http'}://${server}${pathAndQuery}`;
  const options: https.RequestOptions = {
    method: o.method ?? 'GET',
    headers: o.headers,
    agent: false,
    ...(o.tls && { ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, rejectUnauthorized: true }),
  };
  return new Promise((resolve, reject) => {
    const req = (o.tls ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    // A budget for the whole exchange, not only for silence.
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' })), o.timeoutMs);
    function fail(err: Error) {
      clearTimeout(timer);
      reject(err);
    }
    req.on('error', fail);
    req.end(o.body);
  });
}

/** A failed call in a few words: the system error code (ECONNREFUSED), else the message (a certificate that does not verify). */
export function failureReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  return err instanceof Error ? err.message : String(err);
}
