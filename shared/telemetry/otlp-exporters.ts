/**
 * The OTLP span exporter of the configured protocol (protobuf or JSON over HTTP), loaded when
 * tracing starts: a process with tracing off never loads an exporter, one with tracing on loads
 * only its protocol's (the pair with their transformer weighs ~12 MiB resident). The module is
 * imported in the background; spans handed over before it is there wait in the batch queue.
 */
import type { MeterProvider } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/** What the exporters take from the settings. */
export interface OtlpExporterConfig {
  url: string;
  selfObsMeterProvider?: MeterProvider;
}

async function load(protocol: string, config: OtlpExporterConfig): Promise<SpanExporter> {
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(config);
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(config);
}

/** An OTLP exporter whose module loads in the background; every call waits for it. */
export class OtlpExporter implements SpanExporter {
  readonly #exporter: Promise<SpanExporter>;
  #loaded: SpanExporter | undefined;

  constructor(protocol: string, config: OtlpExporterConfig) {
    this.#exporter = load(protocol, config).then((e) => (this.#loaded = e));
    // A load failure is reported by the export that meets it.
    this.#exporter.catch(() => {});
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.#loaded) return this.#loaded.export(spans, resultCallback);
    this.#exporter.then(
      (e) => e.export(spans, resultCallback),
      (error: unknown) => resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) }),
    );
  }

  async forceFlush(): Promise<void> {
    await (await this.#exporter).forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await (await this.#exporter).shutdown();
  }
}
