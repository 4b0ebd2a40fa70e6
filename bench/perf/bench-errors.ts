/**
 * Every way `infergate bench` refuses to run, in one table with stable codes: the CLI turns a
 * BenchError into a one-line message and the code's exit status, tests match on `code`.
 * A request that fails while the load runs is not one of these: it is counted, never thrown.
 */
export type BenchErrorCode =
  | 'BAD_ARGUMENT' // a flag's value, or a combination of flags
  | 'UNKNOWN_MODEL' // the server has no such model (or version)
  | 'BAD_SHAPE' // --shape, or a variable dimension nothing tells the size of
  | 'BAD_INPUT_FILE' // --input-data or a --compare file
  | 'REQUEST_REFUSED' // the server refuses the request the bench built (400-like): bad inputs
  | 'UNREACHABLE'; // no server answers at the target

/** Usage errors exit 2 (as a bad flag does); a server that is not there exits 1. */
const EXIT_CODES: Record<BenchErrorCode, number> = {
  BAD_ARGUMENT: 2,
  UNKNOWN_MODEL: 2,
  BAD_SHAPE: 2,
  BAD_INPUT_FILE: 2,
  REQUEST_REFUSED: 2,
  UNREACHABLE: 1,
};

export class BenchError extends Error {
  constructor(readonly code: BenchErrorCode, message: string) {
    super(message);
    this.name = 'BenchError';
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

export const badArgument = (message: string) => new BenchError('BAD_ARGUMENT', message);
