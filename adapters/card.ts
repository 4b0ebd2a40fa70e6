/** One schedulable device of a node: a GPU, an NPU chip, the CPU, or a simulated card. */
export interface Card {
  /** Unique on its node: `cpu`, `gpu0`, `sim-fast-1`. */
  id: string;
  /** Card type name as in the card table: `cpu-core`, `nvidia-t4`, `sim-fast`. */
  type: string;
  /** Coarse kind that declarations select on (`instances[].kind`). */
  kind: 'cpu' | 'gpu' | 'npu' | 'sim';
  /** Relative performance coefficient (NVIDIA T4 = 1.0); the node's capacity is the sum. */
  coefficient: number;
  /** Extra engine options the adapter chose (execution provider, device id, threads, ...). */
  engineOptions?: Record<string, unknown>;
}
