/**
 * The OTLP/protobuf span pipeline of a process (docs/telemetry.md#span-export): each finished
 * span is encoded into the open batch as it ends (otlp-span-writer.ts) and the batch is sent over
 * OTLP/HTTP when it holds `maxExportBatchSize` spans or `scheduledDelayMillis` after its first —
 * the OpenTelemetry batch span processor's contract (OTEL_BSP_*: queue bound, batch size, delay,
 * export timeout; one export at a time; spans past the bound dropped, never waited for) without
 * its queue of span objects. The HTTP transport (retries, headers, compression, TLS, the
 * `otel_sdk_exporter_*` metrics) is the SDK's, loaded in the background when tracing starts.
 * The processor's own `otel_sdk_processor_span_*` metrics keep the SDK's names and labels.
 */
import type { MeterProvider, ObservableResult } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { FailureReporter } from './failures.ts';
import type { BatchSettings } from './settings.ts';
import { type ProtoWriter, readPartialSuccess, RequestFrame, writeSpan } from './otlp-span-writer.ts';
import { DYELINE_SCOPE, type HopSpanInit } from './span.ts';

/** One batch of encoded spans, waiting to be sent. */
interface EncodedBatch {
  readonly writer: ProtoWriter;
  readonly count: number;
}

/** An export request: the bytes of an ExportTraceServiceRequest and the spans it carries. */
export interface SpanRequest {
  readonly bytes: Uint8Array;
  readonly count: number;
}

/** Sends a request; calls back once with the result (the SDK exporter's contract). */
export interface BatchExporter {
  export(request: SpanRequest, done: (result: ExportResult) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Bytes of a new batch buffer (it grows when a batch needs more). */
const BATCH_BYTES = 64 * 1024;
const PROCESSOR = 'batching_span_processor';
let processors = 0;

/** The processor's self metrics, as the SDK's batch span processor names them. */
class ProcessorMetrics {
  readonly #processed;
  readonly #attrs: Record<string, string>;
  readonly #dropped: Record<string, string>;
  readonly #size;
  readonly #observe: (r: ObservableResult) => void;

  constructor(meterProvider: MeterProvider | undefined, capacity: number, queued: () => number) {
    const meter = meterProvider?.getMeter('@opentelemetry/sdk-trace');
    this.#attrs = { 'otel.component.type': PROCESSOR, 'otel.component.name': `${PROCESSOR}/${processors++}` };
    this.#dropped = { ...this.#attrs, 'error.type': 'queue_full' };
    this.#processed = meter?.createCounter('otel.sdk.processor.span.processed', {
      unit: '{span}',
      description: 'The number of spans for which the processing has finished, either successful or failed.',
    });
    meter?.createUpDownCounter('otel.sdk.processor.span.queue.capacity', { unit: '{span}', description: 'The maximum number of spans the queue of a given instance of an SDK span processor can hold.' }).add(capacity, this.#attrs);
    this.#size = meter?.createObservableUpDownCounter('otel.sdk.processor.span.queue.size', { unit: '{span}', description: 'The number of spans in the queue of a given instance of an SDK span processor.' });
    this.#observe = (r) => r.observe(queued(), this.#attrs);
    this.#size?.addCallback(this.#observe);
  }

  dropped(n: number): void {
    this.#processed?.add(n, this.#dropped);
  }

  finished(n: number, error: Error | undefined): void {
    this.#processed?.add(n, error === undefined ? this.#attrs : { ...this.#attrs, 'error.type': error.name });
  }

  close(): void {
    this.#size?.removeCallback(this.#observe);
  }
}

/** Encodes finished spans into batches and sends them, one export at a time. */
export class SpanBatcher {
  readonly #frame: RequestFrame;
  readonly #exporter: BatchExporter;
  readonly #settings: BatchSettings;
  readonly #batchSize: number;
  readonly #failures: FailureReporter;
  readonly #metrics: ProcessorMetrics;
  /** Batches full or due, oldest first; and the one spans are added to. */
  readonly #ready: EncodedBatch[] = [];
  #open: ProtoWriter | undefined;
  #openCount = 0;
  /** Spans encoded and not yet handed to the exporter. */
  #queued = 0;
  /** A buffer given back by a finished export, for the next batch. */
  #spare: ProtoWriter | undefined;
  #timer: NodeJS.Timeout | undefined;
  #exporting: Promise<void> | undefined;
  #dropped = 0;
  #stopped = false;

  constructor(opts: { exporter: BatchExporter; resource: Resource; settings: BatchSettings; failures: FailureReporter; meterProvider?: MeterProvider }) {
    this.#frame = new RequestFrame(opts.resource, DYELINE_SCOPE);
    this.#exporter = opts.exporter;
    this.#settings = opts.settings;
    this.#batchSize = Math.min(opts.settings.maxExportBatchSize, opts.settings.maxQueueSize);
    this.#failures = opts.failures;
    this.#metrics = new ProcessorMetrics(opts.meterProvider, opts.settings.maxQueueSize, () => this.#queued);
  }

  /** Encodes a finished span into the open batch, or drops it when the queue is full. Never throws. */
  end(init: HopSpanInit): void {
    if (this.#stopped) return;
    if (this.#queued >= this.#settings.maxQueueSize) {
      this.#dropped++;
      this.#metrics.dropped(1);
      return;
    }
    if (this.#dropped > 0) {
      this.#failures.report(`dropped ${this.#dropped} spans because maxQueueSize was reached`);
      this.#dropped = 0;
    }
    let w = this.#open;
    if (w === undefined) {
      w = this.#spare ?? this.#frame.batch(BATCH_BYTES);
      this.#spare = undefined;
      this.#open = w;
    }
    const at = w.pos;
    try {
      writeSpan(w, init);
    } catch (err) {
      w.pos = at; // the batch keeps what it had
      this.#failures.report('could not record a span', err);
      return;
    }
    this.#openCount++;
    this.#queued++;
    if (this.#openCount >= this.#batchSize) {
      this.#close();
      this.#pump();
    } else if (this.#timer === undefined && this.#exporting === undefined) {
      this.#timer = setTimeout(() => this.#due(), this.#settings.scheduledDelayMillis);
      this.#timer.unref();
    }
  }

  /** Sends everything encoded so far; resolves when the last export ended. */
  async forceFlush(): Promise<void> {
    this.#close();
    while (this.#exporting !== undefined || this.#ready.length > 0) {
      if (this.#exporting === undefined) this.#pump();
      await this.#exporting;
    }
  }

  /** Flushes, then stops the transport; `end` is a no-op afterwards. */
  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    await this.forceFlush();
    this.#stopped = true;
    this.#metrics.close();
    await this.#exporter.shutdown();
  }

  /** The open batch becomes ready to send. */
  #close(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#open === undefined || this.#openCount === 0) return;
    this.#ready.push({ writer: this.#open, count: this.#openCount });
    this.#open = undefined;
    this.#openCount = 0;
  }

  #due(): void {
    this.#timer = undefined;
    this.#close();
    this.#pump();
  }

  /** Starts the next export unless one runs. */
  #pump(): void {
    if (this.#exporting !== undefined) return;
    const batch = this.#ready.shift();
    if (batch === undefined) return;
    this.#exporting = this.#send(batch).finally(() => {
      this.#exporting = undefined;
      if (this.#ready.length > 0) this.#pump();
      else if (this.#openCount > 0 && this.#timer === undefined && !this.#stopped) {
        this.#timer = setTimeout(() => this.#due(), this.#settings.scheduledDelayMillis);
        this.#timer.unref();
      }
    });
  }

  #send(batch: EncodedBatch): Promise<void> {
    return new Promise<void>((resolve) => {
      let over = false;
      const finish = (result: ExportResult): void => {
        if (over) return;
        over = true;
        clearTimeout(guard);
        this.#queued -= batch.count;
        const error = result.code === ExportResultCode.SUCCESS ? undefined : (result.error ?? new Error('span export failed'));
        this.#metrics.finished(batch.count, error);
        if (error !== undefined) this.#failures.exportFailed(error, batch.count);
        resolve();
      };
      const guard = setTimeout(() => finish({ code: ExportResultCode.FAILED, error: new Error('Timeout') }), this.#settings.exportTimeoutMillis);
      guard.unref();
      try {
        this.#exporter.export({ bytes: this.#frame.request(batch.writer), count: batch.count }, (result) => {
          // The buffer is free once the transport is done with it (not after a timeout: it may still be sent).
          if (!over) {
            batch.writer.pos = this.#frame.headroom;
            this.#spare ??= batch.writer;
          }
          finish(result);
        });
      } catch (err) {
        finish({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
      }
    });
  }
}
