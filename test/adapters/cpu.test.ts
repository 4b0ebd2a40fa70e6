/** The CPU adapter's /proc/cpuinfo parse on recorded files: x86 (AMD, Intel with AMX), arm64, armv7. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import { detectCpuCards, parseCpuInfo } from '../../adapters/cpu.js';
import { fixture } from './fixture.js';

describe('parseCpuInfo', () => {
  it('x86, this development VM (real /proc/cpuinfo): AVX-512 without AMX', () => {
    expect(parseCpuInfo(fixture('cpuinfo-x86-amd-epyc-2core.txt'))).toEqual({
      modelName: 'AMD EPYC',
      processors: 2,
      simd: ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16'],
    });
  });

  it('x86, Intel Sapphire Rapids: AVX-512 FP16, AVX-VNNI and AMX', () => {
    expect(parseCpuInfo(fixture('cpuinfo-x86-intel-sapphire-rapids.txt'))).toEqual({
      modelName: 'Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz',
      processors: 2,
      simd: ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'avx_vnni', 'amx_tile', 'amx_int8', 'amx_bf16'],
    });
  });

  it('arm64, Graviton3: NEON as asimd, dot product, SVE, int8 and bf16 matmul; no model name line', () => {
    expect(parseCpuInfo(fixture('cpuinfo-arm64-graviton3.txt'))).toEqual({
      processors: 2,
      simd: ['asimd', 'asimdhp', 'asimddp', 'sve', 'i8mm', 'bf16'],
    });
  });

  it('armv7 (32-bit): neon', () => {
    const info = parseCpuInfo(fixture('cpuinfo-armv7-raspberrypi.txt'));
    expect(info).toEqual({ modelName: 'ARMv7 Processor rev 4 (v7l)', processors: 1, simd: ['neon'] });
  });

  it('empty text: nothing, no throw', () => {
    expect(parseCpuInfo('')).toEqual({ processors: 0, simd: [] });
  });
});

describe('detectCpuCards with a recorded cpuinfo', () => {
  it('puts cores, SIMD flags and the model name in info; no thread count in the engine options', () => {
    const [card] = detectCpuCards(DEFAULT_CARD_TABLE, { cores: 8, readCpuInfo: () => fixture('cpuinfo-x86-intel-sapphire-rapids.txt') });
    expect(card.engineOptions).toEqual({ executionProviders: ['cpu'] });
    expect(card.info).toMatchObject({ name: 'Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz', cores: 8, source: '/proc/cpuinfo' });
    expect(card.info?.simd).toContain('amx_int8');
    expect(card.coefficient).toBeCloseTo(0.16, 12);
  });

  it('without /proc/cpuinfo (macOS, Windows): no SIMD flags, still one card', () => {
    const [card] = detectCpuCards(DEFAULT_CARD_TABLE, { cores: 4, readCpuInfo: () => undefined });
    expect(card.info).toMatchObject({ cores: 4, simd: [], source: 'os.cpus()' });
  });
});
