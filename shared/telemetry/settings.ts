/**
 * Trace settings from the standard OpenTelemetry environment (docs/reference.md#traces-and-logs), read once at
 * start: which exporter, where, which protocol, which sampler, how the batch queue is bounded,
 * and the service name. Pure: it reads the `env` object it is given and returns warnings
 * instead of logging, so the caller decides where they go.
 *
 * Differences from the OTel SDK defaults, on purpose for a sidecar:
 * - with neither `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` nor `OTEL_EXPORTER_OTLP_ENDPOINT` set and
 *   no explicit `OTEL_TRACES_EXPORTER`, no spans are recorded at all (the SDK would send to
 *   http://localhost:4318, which in a pod is nobody);
 * - only the HTTP protocols (`http/protobuf`, `http/json`) are offered; `grpc` falls back to
 *   `http/protobuf` with a warning.
 */

/** The sampler names of `OTEL_TRACES_SAMPLER` that dyeline supports (all of the spec's built-in ones). */
export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

/** OTLP over HTTP: protobuf (default) or JSON bodies. */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** How spans leave the process. */
export type TraceExporterKind = 'otlp' | 'console';

/** Bounds of the batch span processor (OTEL_BSP_*). */
export interface BatchSettings {
  /** Spans held before new ones are dropped (OTEL_BSP_MAX_QUEUE_SIZE, default 2048). */
  maxQueueSize: number;
  /** Spans per export request (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512, at most maxQueueSize). */
  maxExportBatchSize: number;
  /** Delay between two exports, ms (OTEL_BSP_SCHEDULE_DELAY, default 5000). */
  scheduledDelayMillis: number;
  /** How long one export may take, ms (OTEL_BSP_EXPORT_TIMEOUT, default 30000). */
  exportTimeoutMillis: number;
}

/** What the environment asks for. */
export interface TraceSettings {
  /** False when spans are not recorded at all (SDK disabled, exporter none, or no endpoint). */
  enabled: boolean;
  /** Why tracing is off, for the start-up log line ('' when enabled). */
  disabledReason: string;
  /** `OTEL_SERVICE_NAME`, else `service.name` of OTEL_RESOURCE_ATTRIBUTES, else the caller's default. */
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, without service.name (that is `serviceName`). */
  resourceAttributes: Record<string, string>;
  /** Exporters, in the order named (default ['otlp']). */
  exporters: TraceExporterKind[];
  /** OTLP protocol (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL, default http/protobuf). */
  protocol: OtlpProtocol;
  /**
   * Full URL spans are POSTed to: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
   * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`, else http://localhost:4318/v1/traces.
   */
  url: string;
  /** OTEL_TRACES_SAMPLER (default parentbased_always_on). */
  sampler: SamplerName;
  /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers, in [0, 1] (default 1). */
  ratio: number;
  batch: BatchSettings;
}

/** Settings plus what was wrong with the environment (unknown values, out-of-range numbers). */
export interface ParsedTraceSettings {
  settings: TraceSettings;
  warnings: string[];
}

const SAMPLERS: ReadonlySet<string> = new Set<SamplerName>([
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
]);

/** Default OTLP/HTTP traces URL of the OTel specification. */
export const DEFAULT_OTLP_TRACES_URL = 'http://localhost:4318/v1/traces';

function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function nonNegative(env: NodeJS.ProcessEnv, name: string, fallback: number, warnings: string[]): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    warnings.push(`${name}="${raw}" is not a non-negative number; using ${fallback}`);
    return fallback;
  }
  return Math.floor(n);
}

/**
 * OTEL_RESOURCE_ATTRIBUTES (`k=v,k2=v2`, values percent-encoded) as a map; malformed pairs are
 * skipped with a warning.
 */
export function parseResourceAttributes(raw: string | undefined, warnings: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined || raw.trim() === '') return out;
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (key === '') {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES: "${pair.trim().slice(0, 60)}" is not key=value; skipped`);
      continue;
    }
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES: the value of "${key}" is not valid percent-encoding; skipped`);
    }
  }
  return out;
}

/** Appends `/v1/traces` to a base endpoint (the spec's rule for OTEL_EXPORTER_OTLP_ENDPOINT). */
export function tracesUrl(base: string): string {
  return base.endsWith('/') ? `${base}v1/traces` : `${base}/v1/traces`;
}

/** The URL without user:password (for logs). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Reads the trace settings from `env`.
 * @param defaultServiceName the service name when the environment names none (agent: --service).
 */
export function parseTraceSettings(env: NodeJS.ProcessEnv, defaultServiceName: string): ParsedTraceSettings {
  const warnings: string[] = [];
  const resourceAttributes = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES, warnings);
  const serviceName = str(env, 'OTEL_SERVICE_NAME') ?? (resourceAttributes['service.name'] || undefined) ?? defaultServiceName;
  delete resourceAttributes['service.name'];

  let sampler: SamplerName = 'parentbased_always_on';
  const samplerRaw = str(env, 'OTEL_TRACES_SAMPLER');
  if (samplerRaw !== undefined) {
    if (SAMPLERS.has(samplerRaw)) sampler = samplerRaw as SamplerName;
    else warnings.push(`OTEL_TRACES_SAMPLER="${samplerRaw}" is not supported (${[...SAMPLERS].join(', ')}); using parentbased_always_on`);
  }
  let ratio = 1;
  if (sampler === 'traceidratio' || sampler === 'parentbased_traceidratio') {
    const raw = str(env, 'OTEL_TRACES_SAMPLER_ARG');
    const n = raw === undefined ? NaN : Number(raw);
    if (raw === undefined) warnings.push('OTEL_TRACES_SAMPLER_ARG is not set; sampling ratio 1');
    else if (!Number.isFinite(n) || n < 0 || n > 1) warnings.push(`OTEL_TRACES_SAMPLER_ARG="${raw}" is not a ratio in [0, 1]; using 1`);
    else ratio = n;
  }

  let protocol: OtlpProtocol = 'http/protobuf';
  const protoRaw = str(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? str(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protoRaw === 'http/json') protocol = 'http/json';
  else if (protoRaw !== undefined && protoRaw !== 'http/protobuf') warnings.push(`OTLP protocol "${protoRaw}" is not supported (http/protobuf, http/json); using http/protobuf`);

  const tracesEndpoint = str(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const url = tracesEndpoint ?? (endpoint !== undefined ? tracesUrl(endpoint) : DEFAULT_OTLP_TRACES_URL);

  const maxQueueSize = Math.max(1, nonNegative(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, warnings));
  const batch: BatchSettings = {
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, Math.max(1, nonNegative(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, warnings))),
    scheduledDelayMillis: nonNegative(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, warnings),
    exportTimeoutMillis: nonNegative(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, warnings),
  };

  const exportersRaw = str(env, 'OTEL_TRACES_EXPORTER');
  const names = exportersRaw === undefined ? [] : [...new Set(exportersRaw.split(',').map((s) => s.trim()).filter(Boolean))];
  const exporters: TraceExporterKind[] = [];
  for (const n of names) {
    if (n === 'otlp' || n === 'console') exporters.push(n);
    else if (n !== 'none') warnings.push(`OTEL_TRACES_EXPORTER "${n}" is not supported (otlp, console, none); ignored`);
  }

  const settings: TraceSettings = { enabled: true, disabledReason: '', serviceName, resourceAttributes, exporters, protocol, url, sampler, ratio, batch };
  const off = (why: string): ParsedTraceSettings => ({ settings: { ...settings, enabled: false, disabledReason: why, exporters: [] }, warnings });

  if ((str(env, 'OTEL_SDK_DISABLED') ?? '').toLowerCase() === 'true') return off('OTEL_SDK_DISABLED=true');
  if (names.includes('none')) return off('OTEL_TRACES_EXPORTER=none');
  if (exportersRaw === undefined) {
    // No explicit exporter: OTLP only when an endpoint is configured.
    if (tracesEndpoint === undefined && endpoint === undefined) return off('no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    exporters.push('otlp');
  }
  if (exporters.length === 0) return off(`no supported exporter in OTEL_TRACES_EXPORTER="${exportersRaw}"`);
  if (exporters.includes('otlp')) {
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      warnings.push(`OTLP traces endpoint "${safeUrl(url)}" is not an http(s) URL; OTLP export is off`);
      exporters.splice(exporters.indexOf('otlp'), 1);
      if (exporters.length === 0) return off('the OTLP endpoint is not an http(s) URL');
    }
  }
  return { settings, warnings };
}
