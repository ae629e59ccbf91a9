import { describe, expect, it } from 'vitest';
import { DEFAULT_OTLP_TRACES_URL, parseResourceAttributes, parseTraceSettings, safeUrl, tracesUrl } from '../../../../shared/telemetry/settings.ts';

const parse = (env: NodeJS.ProcessEnv) => parseTraceSettings(env, 'orders');

describe('trace settings from OTEL_* (contract §8)', () => {
  it('is off without an endpoint: no spans at all, and says why', () => {
    const { settings, warnings } = parse({});
    expect(settings.enabled).toBe(false);
    expect(settings.disabledReason).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(settings.serviceName).toBe('orders');
    expect(warnings).toEqual([]);
  });

  it('turns on with OTEL_EXPORTER_OTLP_ENDPOINT, appending /v1/traces, protobuf by default', () => {
    const { settings } = parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' });
    expect(settings).toMatchObject({ enabled: true, exporters: ['otlp'], protocol: 'http/protobuf', url: 'http://jaeger:4318/v1/traces' });
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' }).settings.url).toBe('http://jaeger:4318/v1/traces');
  });

  it('uses the traces endpoint as given, and it wins over the generic one', () => {
    const { settings } = parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' });
    expect(settings.url).toBe('http://b:9999/custom');
  });

  it('reads the protocol, the traces-specific variable first; grpc falls back with a warning', () => {
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).settings.protocol).toBe('http/json');
    expect(
      parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }).settings.protocol,
    ).toBe('http/protobuf');
    const grpc = parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(grpc.settings.protocol).toBe('http/protobuf');
    expect(grpc.warnings.join()).toMatch(/grpc.*not supported/);
  });

  it('OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true switch it off even with an endpoint', () => {
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'none' }).settings).toMatchObject({ enabled: false, disabledReason: 'OTEL_TRACES_EXPORTER=none' });
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_SDK_DISABLED: 'TRUE' }).settings.enabled).toBe(false);
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_SDK_DISABLED: 'false' }).settings.enabled).toBe(true);
  });

  it('an explicit otlp exporter without endpoint uses the spec default URL; console needs no endpoint', () => {
    expect(parse({ OTEL_TRACES_EXPORTER: 'otlp' }).settings).toMatchObject({ enabled: true, url: DEFAULT_OTLP_TRACES_URL });
    expect(parse({ OTEL_TRACES_EXPORTER: 'console' }).settings).toMatchObject({ enabled: true, exporters: ['console'] });
    const unknown = parse({ OTEL_TRACES_EXPORTER: 'zipkin' });
    expect(unknown.settings.enabled).toBe(false);
    expect(unknown.warnings.join()).toMatch(/zipkin/);
  });

  it('a non-http endpoint turns OTLP off with a warning instead of failing later', () => {
    const { settings, warnings } = parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' });
    expect(settings.enabled).toBe(false);
    expect(warnings.join()).toMatch(/not an http\(s\) URL/);
  });

  it('reads the sampler and its ratio, rejecting unknown names and bad ratios', () => {
    expect(parse({}).settings).toMatchObject({ sampler: 'parentbased_always_on', ratio: 1 });
    expect(parse({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).settings).toMatchObject({ sampler: 'parentbased_traceidratio', ratio: 0.25 });
    const bad = parse({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' });
    expect(bad.settings.ratio).toBe(1);
    expect(bad.warnings.join()).toMatch(/OTEL_TRACES_SAMPLER_ARG="7"/);
    const unknown = parse({ OTEL_TRACES_SAMPLER: 'jaeger_remote' });
    expect(unknown.settings.sampler).toBe('parentbased_always_on');
    expect(unknown.warnings.join()).toMatch(/jaeger_remote/);
  });

  it('service name: OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES, then the default', () => {
    expect(parse({ OTEL_SERVICE_NAME: 'svc-a', OTEL_RESOURCE_ATTRIBUTES: 'service.name=svc-b' }).settings.serviceName).toBe('svc-a');
    const r = parse({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=svc-b,deployment.environment=prod%20eu' }).settings;
    expect(r.serviceName).toBe('svc-b');
    expect(r.resourceAttributes).toEqual({ 'deployment.environment': 'prod eu' });
  });

  it('bounds the batch queue from OTEL_BSP_*, batch size never above the queue', () => {
    const { settings, warnings } = parse({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_BSP_EXPORT_TIMEOUT: 'soon' });
    expect(settings.batch).toEqual({ maxQueueSize: 100, maxExportBatchSize: 100, scheduledDelayMillis: 50, exportTimeoutMillis: 30_000 });
    expect(warnings.join()).toMatch(/OTEL_BSP_EXPORT_TIMEOUT/);
    expect(parse({}).settings.batch).toEqual({ maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000 });
  });

  it('helpers: resource attributes, URL joining, credentials stripped for logs', () => {
    const w: string[] = [];
    expect(parseResourceAttributes('a=1, b = x%2Cy ,broken,=v', w)).toEqual({ a: '1', b: 'x,y' });
    expect(w).toHaveLength(2);
    expect(tracesUrl('http://h:1/base')).toBe('http://h:1/base/v1/traces');
    expect(safeUrl('https://user:secret@collector:4318/v1/traces')).toBe('https://collector:4318/v1/traces');
    expect(safeUrl('not a url')).not.toContain('not a url');
  });
});
