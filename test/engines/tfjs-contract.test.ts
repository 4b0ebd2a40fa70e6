/** The shared engine contract (engine-contract.ts) on the tfjs engine: a graph model (bundled liveness) and a layers model. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { TfjsEngine } from '../../engines/tfjs.js';
import { engineContract } from './engine-contract.js';
import { denseReference, denseRequest, livenessReference, livenessRequest, livenessSpec, specOf, writeDenseLayersModel } from './tfjs-fixtures.js';

engineContract({
  name: 'tfjs (liveness graph model)',
  createEngine: () => new TfjsEngine({ backends: ['wasm', 'cpu'] }),
  load: livenessSpec,
  request: livenessRequest,
  expected: livenessReference,
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-tfjs-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let declarationFile: Promise<string> | undefined;

engineContract({
  name: 'tfjs (dense layers model)',
  createEngine: () => new TfjsEngine({ backends: ['wasm', 'cpu'] }),
  load: async () => specOf(await (declarationFile ??= writeDenseLayersModel(dir))),
  request: denseRequest,
  expected: denseReference,
});
