/**
 * The OTLP span exporters, loaded when tracing starts: a process with tracing off never loads
 * one, one with tracing on loads only its protocol's. `http/protobuf` (the default): the SDK's
 * OTLP/HTTP transport sending the batches span-batcher.ts encodes (no OTLP transformer loaded);
 * `http/json`: the SDK's JSON exporter behind its batch span processor. The modules are imported
 * in the background; spans handed over before they are there wait in the batch queue.
 */
import type { MeterProvider } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { readPartialSuccess } from './otlp-span-writer.ts';
import type { BatchExporter, SpanRequest } from './span-batcher.ts';

/** What the exporters take from the settings. */
export interface OtlpExporterConfig {
  url: string;
  selfObsMeterProvider?: MeterProvider;
}

/** An exporter of `Item`s: the SDK's span exporters, and the OTLP/HTTP transport of encoded requests. */
interface Exporter<Item> {
  export(items: Item, done: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

/** An exporter whose module loads in the background; every call waits for it. */
class LazyExporter<Item> {
  readonly #exporter: Promise<Exporter<Item>>;
  #loaded: Exporter<Item> | undefined;

  constructor(load: Promise<Exporter<Item>>) {
    this.#exporter = load.then((e) => (this.#loaded = e));
    // A load failure is reported by the export that meets it.
    this.#exporter.catch(() => {});
  }

  export(items: Item, done: (result: ExportResult) => void): void {
    if (this.#loaded) return this.#loaded.export(items, done);
    this.#exporter.then(
      (e) => e.export(items, done),
      (error: unknown) => done({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) }),
    );
  }

  async forceFlush(): Promise<void> {
    await (await this.#exporter).forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await (await this.#exporter).shutdown();
  }
}

async function loadJson(config: OtlpExporterConfig): Promise<Exporter<ReadableSpan[]>> {
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter(config);
}

/** The SDK's OTLP/HTTP JSON exporter, loaded in the background. */
export class OtlpJsonExporter extends LazyExporter<ReadableSpan[]> implements SpanExporter {
  constructor(config: OtlpExporterConfig) {
    super(loadJson(config));
  }
}

async function loadTransport(config: OtlpExporterConfig): Promise<Exporter<SpanRequest>> {
  const [{ OTLPExporterBase }, { convertLegacyHttpOptions, createOtlpHttpExportDelegate }] = await Promise.all([
    import('@opentelemetry/otlp-exporter-base'),
    import('@opentelemetry/otlp-exporter-base/node-http'),
  ]);
  // The SDK's OTLP/HTTP protobuf exporter, as @opentelemetry/exporter-trace-otlp-proto builds it,
  // with requests already encoded: its serializer hands their bytes on.
  const options = convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  const serializer = { serializeRequest: (r: SpanRequest) => r.bytes, deserializeResponse: readPartialSuccess };
  const counted = { name: 'span' as const, countItems: (r: SpanRequest) => r.count };
  return new OTLPExporterBase(createOtlpHttpExportDelegate(options, serializer, 'otlp_http_span_exporter', counted, config.selfObsMeterProvider));
}

/** The SDK's OTLP/HTTP transport of encoded requests (protobuf), loaded in the background. */
export class OtlpProtoExporter extends LazyExporter<SpanRequest> implements BatchExporter {
  constructor(config: OtlpExporterConfig) {
    super(loadTransport(config));
  }
}
