import { it } from 'vitest';
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
import { loadModelRepository } from '../../core/model-repository.js';
const base = `name: NAME
engine: onnx
model_file: model.onnx
max_batch_size: 4
inputs:
  - name: IN
    datatype: FP32
    dims: [4]
outputs:
  - name: OUT
    datatype: FP32
    dims: [4]
`;
it('probe', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-probe-'));
  const mk = (name: string, text: string, files: string[] = ['1/model.onnx']) => {
    fs.mkdirSync(path.join(root, name), { recursive: true });
    fs.writeFileSync(path.join(root, name, 'model.yaml'), text.replace('NAME', name));
    for (const f of files) { fs.mkdirSync(path.dirname(path.join(root, name, f)), { recursive: true }); fs.writeFileSync(path.join(root, name, f), 'x'); }
  };
  mk('good', base);
  mk('typo', base.replace('max_batch_size', 'max_batchsize'));
  mk('baddt', base.replace('datatype: FP32', 'datatype: FLOAT32'));
  mk('noinputs', base.replace(/inputs:\n  - name: IN\n    datatype: FP32\n    dims: \[4\]\n/, ''));
  mk('dimsneg', base.replace('dims: [4]', 'dims: [-2]'));
  mk('engineempty', base.replace('engine: onnx', 'engine: []'));
  mk('vpbad', base + 'version_policy: {newest: 2}\n');
  mk('vpbad2', base + 'version_policy: latest-2\n');
  mk('wrongname', base.replace('name: NAME', 'name: other'));
  mk('dupin', base.replace('outputs:', '  - name: IN\n    datatype: FP32\n    dims: [4]\noutputs:'));
  mk('nofile', base, ['1/other.bin']);
  mk('nover', base, []);
  mk('specific', base + 'version_policy: {specific: [2]}\n');
  mk('badyaml', 'name: [unclosed\n  x: : y');
  mk('simnosim', base.replace('engine: onnx', 'engine: sim').replace('model_file: model.onnx\n', ''), []);
  mk('unknownengine', base.replace('engine: onnx', 'engine: tensorrt'));
  const r = loadModelRepository(root, { knownEngines: ['onnx', 'sim'] });
  console.log(r.models.map((m) => m.declaration.name));
  for (const e of r.errors) console.log(JSON.stringify(e));
});
