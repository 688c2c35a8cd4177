/**
 * The `telemetry` config section: OpenTelemetry traces exported over OTLP/HTTP (JSON) to a
 * collector (telemetry/). Absent, or without `otlp`, tracing is off and no SDK module is loaded.
 * `otlp.headers` values are secrets (an API token): never quoted in an error or a printed config
 * (config/secrets.ts treats everything under a `headers` key so).
 */
import { z } from 'zod';
import { fraction, section, text, timerDuration } from './fields.js';

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
/** A header value: visible ASCII and spaces, no CR/LF (a header cannot be split). */
const HEADER_VALUE = /^[\t\x20-\x7e]{1,8192}$/;
export const DEFAULT_OTLP_ENDPOINT = 'http://127.0.0.1:4318/v1/traces';
export const DEFAULT_SERVICE_NAME = 'herald-relay';

const endpoint = z.string({ error: 'expected an http(s) URL like http://127.0.0.1:4318/v1/traces' }).refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'expected an http(s) URL like http://127.0.0.1:4318/v1/traces' },
);

const otlpSchema = section({
  /** The collector's OTLP/HTTP traces URL (JSON bodies are posted there). */
  endpoint: endpoint.default(DEFAULT_OTLP_ENDPOINT),
  /** Extra request headers (an API token): secrets, never echoed. */
  headers: z
    .record(
      z.string().regex(HEADER_NAME, { error: 'expected an HTTP header name' }),
      z.string({ error: 'expected a header value' }).regex(HEADER_VALUE, {
        error: 'expected a header value of printable characters (no line breaks)',
      }),
      { error: 'expected a mapping of header names to values' },
    )
    .default({}),
  /** One export request's deadline. */
  timeout: timerDuration().prefault('10s'),
});

export const telemetrySchema = section({
  /** Where spans go; absent = tracing off. */
  otlp: otlpSchema.optional(),
  /** Fraction of new traces recorded (ParentBased: a stored parent's decision is kept). */
  sample_ratio: fraction(0, 1).default(1),
  /** The `service.name` resource attribute. */
  service_name: text('a service name').default(DEFAULT_SERVICE_NAME),
  /** Spans wait at most this long in the batch before export (BatchSpanProcessor's delay). */
  batch_delay: timerDuration().prefault('5s'),
});

export type TelemetryConfig = z.output<typeof telemetrySchema>;
