/**
 * The process's tracing: OpenTelemetry SDK pieces configured by the standard `OTEL_*`
 * environment (docs/reference.md#traces-and-logs) — an OTLP/HTTP exporter (protobuf or JSON),
 * bounded batches, the env's sampler, a resource named after the service. No NodeSDK and no
 * auto-instrumentation: dyeline makes exactly one span per hop itself (an http instrumentation
 * would double them). With OTLP/protobuf (the default) each finished span is encoded into its
 * batch as it ends (span-batcher.ts); JSON and console exporters get a span object (span.ts)
 * through the SDK's processors.
 *
 * When tracing is off (no endpoint, `OTEL_TRACES_EXPORTER=none`, `OTEL_SDK_DISABLED=true`)
 * `enabled` is false and callers build no span at all. Export failures are swallowed by the
 * SDK, counted and logged at most once a minute (failures.ts); spans beyond the queue bound
 * are dropped, never waited for.
 */
import type { Attributes, MeterProvider } from '@opentelemetry/api';
import { defaultResource, type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { SpanBatcher } from './span-batcher.ts';
import type { Logger } from '../log.ts';
import { CountingExporter, FailureReporter, installFailureReporting } from './failures.ts';
import { createHopSampler, type HopSampler, KEEP_FLAG_SAMPLER } from './sampler.ts';
import { parseTraceSettings, safeUrl, type TraceSettings } from './settings.ts';
import { HopSpan, type HopSpanInit } from './span.ts';
import { OtlpJsonExporter, OtlpProtoExporter } from './otlp-exporters.ts';

/** How to set tracing up. */
export interface TracingOptions {
  /** service.name when OTEL_SERVICE_NAME names none (agent: --service; daemon: dyeline-daemon). */
  defaultServiceName: string;
  log: Logger;
  /** The environment to read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Extra resource attributes (the agent adds its lane); OTEL_RESOURCE_ATTRIBUTES wins over them. */
  resourceAttributes?: Attributes;
  /** Where the SDK's own metrics go (spans processed/dropped, exports); none by default. */
  meterProvider?: MeterProvider;
  /** Replaces the environment's exporters (tests); spans are then recorded even with no endpoint. */
  exporter?: SpanExporter;
  /** Minimum time between two failure log lines, ms (default 60000). */
  failureLogIntervalMs?: number;
}

/** The process's tracing. */
export interface Tracing {
  /** True when spans are recorded and exported; when false, build no span. */
  readonly enabled: boolean;
  readonly settings: TraceSettings;
  /** The sampling decision of a hop (keeps the incoming flag when tracing is off). */
  readonly sampler: HopSampler;
  readonly resource: Resource;
  /** Export failures, dropped spans and other OTel pipeline problems. */
  readonly failures: FailureReporter;
  /** Queues a finished, sampled span (no-op when tracing is off). Never throws. */
  end(init: HopSpanInit): void;
  /** Exports what is queued (tests, shutdown). */
  forceFlush(): Promise<void>;
  /** Flushes and stops; `end` is a no-op afterwards. */
  shutdown(): Promise<void>;
}

/** Where finished spans go: an encoding batcher, or the SDK's processors (span objects). */
interface SpanSink {
  end(init: HopSpanInit): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The SDK's span processors, fed one span object per finished span. */
class ProcessorSink implements SpanSink {
  readonly #processors: SpanProcessor[];
  readonly #resource: Resource;

  constructor(processors: SpanProcessor[], resource: Resource) {
    this.#processors = processors;
    this.#resource = resource;
  }

  end(init: HopSpanInit): void {
    const span = new HopSpan(init, this.#resource);
    for (const p of this.#processors) p.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.shutdown()));
  }
}

function createSinks(settings: TraceSettings, resource: Resource, failures: FailureReporter, meterProvider: MeterProvider | undefined): SpanSink[] {
  const processors: SpanProcessor[] = [];
  const sinks: SpanSink[] = [];
  for (const kind of settings.exporters) {
    const config = { url: settings.url, selfObsMeterProvider: meterProvider };
    if (kind === 'console') processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    else if (settings.protocol === 'http/json') {
      processors.push(new BatchSpanProcessor({ exporter: new CountingExporter(new OtlpJsonExporter(config), failures), selfObsMeterProvider: meterProvider, ...settings.batch }));
    } else sinks.push(new SpanBatcher({ exporter: new OtlpProtoExporter(config), resource, settings: settings.batch, failures, meterProvider }));
  }
  if (processors.length > 0) sinks.push(new ProcessorSink(processors, resource));
  return sinks;
}

class Enabled implements Tracing {
  readonly enabled = true;
  readonly settings: TraceSettings;
  readonly sampler: HopSampler;
  readonly resource: Resource;
  readonly failures: FailureReporter;
  readonly #sinks: SpanSink[];
  #stopped = false;

  constructor(settings: TraceSettings, resource: Resource, sinks: SpanSink[], failures: FailureReporter) {
    this.settings = settings;
    this.sampler = createHopSampler(settings.sampler, settings.ratio);
    this.resource = resource;
    this.failures = failures;
    this.#sinks = sinks;
  }

  end(init: HopSpanInit): void {
    if (this.#stopped) return;
    try {
      for (const s of this.#sinks) s.end(init);
    } catch (err) {
      this.failures.report('could not record a span', err);
    }
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.#sinks.map((s) => s.forceFlush().catch((err: unknown) => this.failures.report('span export failed', err))));
  }

  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.#sinks.map((s) => s.shutdown().catch((err: unknown) => this.failures.report('span export failed at shutdown', err))));
  }
}

class Disabled implements Tracing {
  readonly enabled = false;
  readonly settings: TraceSettings;
  readonly sampler = KEEP_FLAG_SAMPLER;
  readonly resource: Resource;
  readonly failures: FailureReporter;

  constructor(settings: TraceSettings, resource: Resource, failures: FailureReporter) {
    this.settings = settings;
    this.resource = resource;
    this.failures = failures;
  }

  end(): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/**
 * Sets tracing up from the environment and logs one line saying what it does (exporter,
 * protocol, endpoint without credentials, sampler) or why it is off.
 */
export function createTracing(opts: TracingOptions): Tracing {
  const { settings, warnings } = parseTraceSettings(opts.env ?? process.env, opts.defaultServiceName);
  const log = opts.log;
  for (const w of warnings) log.warn(`telemetry: ${w}`);
  const resource = defaultResource()
    .merge(resourceFromAttributes(opts.resourceAttributes ?? {}))
    .merge(resourceFromAttributes({ ...settings.resourceAttributes, 'service.name': settings.serviceName }));
  const failures = installFailureReporting(new FailureReporter(log, opts.failureLogIntervalMs));

  if (opts.exporter !== undefined) {
    const s = { ...settings, enabled: true, disabledReason: '' };
    return new Enabled(s, resource, [new ProcessorSink([new BatchSpanProcessor({ exporter: new CountingExporter(opts.exporter, failures), ...settings.batch })], resource)], failures);
  }
  if (!settings.enabled) {
    log.info({ service: settings.serviceName, reason: settings.disabledReason }, 'tracing off');
    return new Disabled(settings, resource, failures);
  }
  const sinks = createSinks(settings, resource, failures, opts.meterProvider);
  log.info(
    {
      service: settings.serviceName,
      exporters: settings.exporters,
      protocol: settings.exporters.includes('otlp') ? settings.protocol : undefined,
      endpoint: settings.exporters.includes('otlp') ? safeUrl(settings.url) : undefined,
      sampler: createHopSampler(settings.sampler, settings.ratio).description,
      maxQueueSize: settings.batch.maxQueueSize,
    },
    'tracing on',
  );
  return new Enabled(settings, resource, sinks, failures);
}
