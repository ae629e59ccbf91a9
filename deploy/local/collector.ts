/**
 * The demo's own trace collector: a tiny OTLP/HTTP receiver (`POST /v1/traces`, JSON encoding)
 * that keeps the spans it receives, so the demo can print one request's trace as a tree
 * without Jaeger. Point OTEL_EXPORTER_OTLP_ENDPOINT at a real Jaeger (port 4318) instead to
 * see the same spans there.
 */
import { createServer, type Server } from 'node:http';

/** A received span, flattened. */
export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  start: bigint;
  end: bigint;
  service: string;
  attributes: Record<string, string | number | boolean>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type OtlpAttrs = { key: string; value: OtlpValue }[] | undefined;

function attrs(list: OtlpAttrs): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.doubleValue ?? value.boolValue ?? '';
  }
  return out;
}

/** Collector bound to `port` on loopback. */
export class Collector {
  readonly spans: Span[] = [];
  private server: Server | undefined;

  async start(port: number): Promise<string> {
    this.server = createServer((req, res) => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/traces')) {
        res.writeHead(404).end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.ingest(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject).listen(port, '127.0.0.1', () => resolve());
    });
    return `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  stop(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }

  /** Spans of one trace. */
  trace(traceId: string): Span[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  private ingest(body: { resourceSpans?: { resource?: { attributes?: OtlpAttrs }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[] }): void {
    for (const rs of body.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '?');
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: String(s.traceId ?? ''),
            spanId: String(s.spanId ?? ''),
            parentSpanId: String(s.parentSpanId ?? ''),
            name: String(s.name ?? ''),
            kind: Number(s.kind ?? 0),
            start: BigInt(String(s.startTimeUnixNano ?? '0')),
            end: BigInt(String(s.endTimeUnixNano ?? '0')),
            service,
            attributes: attrs(s.attributes as OtlpAttrs),
          });
        }
      }
    }
  }
}

const KIND = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

/** One trace as an indented tree, parents before children, siblings by start time. */
export function traceTree(spans: readonly Span[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, Span[]>();
  for (const s of spans) {
    const parent = ids.has(s.parentSpanId) ? s.parentSpanId : '';
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const lines: string[] = [];
  const walk = (parent: string, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) => (a.start < b.start ? -1 : 1));
    for (const s of list) {
      const ms = Number(s.end - s.start) / 1e6;
      const lane = [
        s.attributes['dyeline.color'] !== undefined && `color=${s.attributes['dyeline.color']}`,
        s.attributes['dyeline.served_color'] !== undefined && `served=${s.attributes['dyeline.served_color']}`,
        s.attributes['dyeline.fallback'] !== undefined && `fallback=${s.attributes['dyeline.fallback']}`,
      ].filter(Boolean);
      lines.push(`${'  '.repeat(depth)}${depth > 0 ? '└─ ' : ''}${s.service} ${KIND[s.kind] ?? s.kind} ${s.name}  ${ms.toFixed(1)} ms  ${lane.join(' ')}`);
      walk(s.spanId, depth + 1);
    }
  };
  walk('', 0);
  return lines.join('\n');
}
