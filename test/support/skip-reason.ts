/**
 * Why a test is skipped on this machine, where a reader sees it: appended to the test's or suite's
 * title (vitest lists skipped tests by title) and printed once when the file loads. `reason`
 * undefined: the test runs, and its title is unchanged.
 */
export function skipNote(reason: string | undefined): string {
  if (reason === undefined) return '';
  console.warn(`[skipped] ${reason}`);
  return ` [skipped here: ${reason}]`;
}
