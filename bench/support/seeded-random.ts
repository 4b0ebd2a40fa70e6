/**
 * A seeded source of uniform numbers in [0, 1) for benches and tests: a Weyl sequence through
 * murmur3's 32-bit finaliser. Small, fast, and the same sequence on every run, so a bench sees the
 * same pool and a test's expectations are exact.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 2 ** 32;
  };
}
