/**
 * How much of onnxruntime's own (native) logging reaches stderr. onnxruntime writes its warnings
 * straight to the process's stderr, coloured and outside the server's JSON log, so the level is
 * tied to the server's: at the default (`info`) only errors get through; `debug` lets warnings
 * through too; `silent` and `fatal` only fatal ones.
 */

/** onnxruntime's severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal. */
export type OrtLogSeverity = 0 | 1 | 2 | 3 | 4;

/** Errors only: onnxruntime's warnings (unused initializers, nodes placed on the CPU…) are noise in a server log. */
export const DEFAULT_ORT_LOG_SEVERITY: OrtLogSeverity = 3;

const BY_SERVER_LEVEL: Readonly<Record<string, OrtLogSeverity>> = {
  trace: 0,
  debug: 2,
  info: 3,
  warn: 3,
  error: 3,
  fatal: 4,
  silent: 4,
};

/** The onnxruntime severity for a server log level (`--log-level`); an unknown level gets the default. */
export function ortLogSeverityFor(serverLevel: string): OrtLogSeverity {
  return BY_SERVER_LEVEL[serverLevel] ?? DEFAULT_ORT_LOG_SEVERITY;
}

const ENV_LEVEL_NAMES = ['verbose', 'info', 'warning', 'error', 'fatal'] as const;

/** The name `ort.env.logLevel` takes for a severity. */
export function ortEnvLogLevel(severity: OrtLogSeverity): (typeof ENV_LEVEL_NAMES)[number] {
  return ENV_LEVEL_NAMES[severity];
}

export function isOrtLogSeverity(value: unknown): value is OrtLogSeverity {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 4;
}
