/**
 * The layer check (`npm run check:layers`, part of `npm test`). Folders follow the path of a
 * request, top to bottom; a module may import from its own layer or any layer below it, never from
 * one above, and nothing may import in a circle. cli/ (process assembly), client/, bench/ and tools/ sit on
 * top and may use every layer.
 */
const LAYERS = [
  ['cli', 'client', 'bench', 'tools'],
  ['gateway'], // front doors: wire format in, wire format out
  ['service'], // the core service every door calls
  ['scheduler'], // pools, pickers, weights, the Backend contract it routes to
  ['transport'], // how a call reaches a node: in process, or forwarded over HTTP
  ['node'], // model queues, executors, load reports, heartbeats
  ['engines'], // Engine → LoadedModel → instance
  ['adapters'], // card detection and the engine choice per card
  ['processing'], // declared pre/post-processing: image decode, resize, normalize, softmax, top-k
  ['core'], // tensors, datatypes, errors, codecs and wire formats both sides share
];

const folder = (names) => `^(${names.join('|')})/`;

const upward = LAYERS.slice(1).map((layer, i) => ({
  name: `no-import-up-from-${layer.join('-')}`,
  comment: `${layer.join(', ')} may not import from the layers above it (${LAYERS.slice(0, i + 1).flat().join(', ')})`,
  severity: 'error',
  from: { path: folder(layer) },
  to: { path: folder(LAYERS.slice(0, i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'modules that import each other, directly or around a loop',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
