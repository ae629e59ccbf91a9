/**
 * OpenTelemetry's own Node instrumentation for the preload's coexistence tests, loaded with
 * `node --import` before or after dyeline/propagate: the Node SDK with the http and undici
 * instrumentations, spans kept in memory, propagators from OTEL_PROPAGATORS (default
 * tracecontext,baggage), no metrics or logs.
 */
import { createRequire } from 'node:module';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { startNodeSdk } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';

startNodeSdk({
  spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })],
  metricReaders: [],
  logRecordProcessors: [],
  instrumentations: [new HttpInstrumentation(), new UndiciInstrumentation()],
});
// The http instrumentation patches the module when it is required; an ESM app's `import` of
// node:http does not go through require, so load it once here (what OpenTelemetry's ESM hook does).
createRequire(import.meta.url)('node:http');
