/**
 * What every fuzz file shares: how many cases and which seed (both from the environment, so a
 * failure found in CI replays exactly), and the property itself: a parser either returns or throws
 * an InferError whose HTTP status is a 4xx. Anything else (a TypeError, a RangeError from a typed
 * array, a 5xx code) is a bug the fuzzer found. One 5xx is a deliberate answer, not a failure:
 * UNSUPPORTED (501) for a protocol feature infergate does not offer (shared-memory parameters).
 *
 *   FUZZ_SEED=<seed> [FUZZ_PATH=<path>] npx vitest run test/fuzz/<file>
 *
 * replays the run fast-check printed; FUZZ_RUNS scales every file's case count (e.g. 10 for a soak).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { InferError, toHttpStatus } from '../../core/errors.js';

/** fast-check parameters for a property of `numRuns` cases (× FUZZ_RUNS), seeded by FUZZ_SEED when set. */
export function fuzzParameters<T>(numRuns: number): fc.Parameters<T> {
  const scale = Number(process.env.FUZZ_RUNS ?? '1');
  const params: fc.Parameters<T> = { numRuns: Math.max(1, Math.round(numRuns * (Number.isFinite(scale) && scale > 0 ? scale : 1))) };
  // A seed of our own when none is given, so that every run's seed is printed, failing or not.
  params.seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fffffff);
  if (process.env.FUZZ_PATH !== undefined) params.path = process.env.FUZZ_PATH;
  return params;
}

/** Runs a property and prints how many cases ran and how long (the figures of the README). */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  label: string,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  numRuns: number,
): Promise<void> {
  const params = fuzzParameters<Ts>(numRuns);
  const started = performance.now();
  await fc.assert(property as fc.IAsyncProperty<Ts>, params);
  console.log(`[fuzz] ${label}: ${params.numRuns} cases in ${Math.round(performance.now() - started)} ms (FUZZ_SEED=${params.seed})`);
}

/** How one call ended: a value, or the InferError it threw. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: InferError };

/** Calls `parse`; a throw that is not an InferError with a 4xx status fails the property. */
export function cleanOutcome<T>(parse: () => T): Outcome<T> {
  try {
    return { ok: true, value: parse() };
  } catch (err) {
    expectClientError(err);
    return { ok: false, error: err as InferError };
  }
}

export function expectClientError(err: unknown): void {
  if (!(err instanceof InferError)) {
    throw new Error(`threw ${(err as Error)?.name ?? typeof err} instead of an InferError: ${(err as Error)?.stack ?? String(err)}`);
  }
  if (err.code === 'UNSUPPORTED') return;
  const status = toHttpStatus(err.code);
  expect(status, `${err.code} (${err.reason}): ${err.message}`).toBeGreaterThanOrEqual(400);
  expect(status, `${err.code} (${err.reason}): ${err.message}`).toBeLessThan(500);
  expect(err.message.length).toBeGreaterThan(0);
}
