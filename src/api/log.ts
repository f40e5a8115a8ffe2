/**
 * Logger factory: pino, JSON lines on stdout. The level comes from LOG_LEVEL (default info);
 * under a test runner (VITEST, or NODE_ENV=test) the default is `silent`. Secrets never go into
 * logs: cookies and Authorization headers are redacted wherever a request object is logged.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export interface LoggerFactoryOptions {
  /** Overrides LOG_LEVEL. */
  readonly level?: string;
  /** Added to every line as `name`. */
  readonly name?: string;
  /** Where lines go (default stdout); tests pass a stream to read them back. */
  readonly destination?: DestinationStream;
  readonly env?: NodeJS.ProcessEnv;
}

/** The level to use: explicit, else LOG_LEVEL, else silent under tests, else info. */
export function logLevel(options: Pick<LoggerFactoryOptions, 'level' | 'env'> = {}): string {
  const env = options.env ?? process.env;
  const wanted = (options.level ?? env['LOG_LEVEL'] ?? '').trim().toLowerCase();
  if (LEVELS.has(wanted)) return wanted;
  if (env['VITEST'] !== undefined || env['NODE_ENV'] === 'test') return 'silent';
  return 'info';
}

export function createLogger(options: LoggerFactoryOptions = {}): Logger {
  const config: LoggerOptions = {
    level: logLevel(options),
    base: options.name === undefined ? { pid: process.pid } : { pid: process.pid, name: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['req.headers.cookie', 'req.headers.authorization', 'headers.cookie', 'headers.authorization', 'password', '*.password', 'apiKey', '*.apiKey'],
      censor: '[redacted]',
    },
    serializers: { err: pino.stdSerializers.err },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
