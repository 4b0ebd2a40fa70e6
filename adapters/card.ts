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
  /** What detection read about the device, for people (`infergate devices`); never used to schedule. */
  info?: CardInfo;
}

/** Facts a detector read from the tool or file it used; every field is optional. */
export interface CardInfo {
  /** The name the vendor tool prints: `NVIDIA A100-SXM4-80GB`, `910B3`, a CPU model name. */
  name?: string;
  /** Device memory (for the CPU: none; host memory is not the card's). */
  memoryMiB?: number;
  /** Vendor health word where the tool reports one (npu-smi: OK, Warning, Alarm, Critical). */
  health?: string;
  uuid?: string;
  /** For a MIG slice: its profile (`1g.10gb`) and the parent GPU's index. */
  mig?: { profile: string; parentIndex: number };
  /** CPU only: logical cores used and the SIMD extensions inference libraries dispatch on. */
  cores?: number;
  simd?: string[];
  /** Where the card was found: `nvidia-smi`, `npu-smi`, `/dev/accel/accel0`, `/proc/cpuinfo`. */
  source?: string;
}
