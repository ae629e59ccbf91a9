/**
 * The OTLP span exporters (protobuf and JSON over HTTP). tracing.ts loads this module only when
 * an OTLP exporter is configured: with their transformer and exporter base they weigh ~12 MiB of
 * resident memory that an agent with tracing off does not carry.
 */
export { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
export { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
