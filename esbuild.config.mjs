// Bundles the program into one ESM file that bin/toolbench loads: `npm run build`.
// onnxruntime-node stays outside the bundle: it loads native code from its own package folder.
// Worker-thread modules are bundled beside it (dist/<name>.mjs), where the program looks for them.
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const EXTERNAL = ['onnxruntime-node'];

export const WORKERS = ['src/preprocess/toolllama-worker.ts'];

export const COMMON = {
  entryPoints: ['src/cli/entry.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  legalComments: 'linked',
  sourcemap: 'linked',
  logLevel: 'warning',
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const esm = {
    ...COMMON,
    format: 'esm',
    // Bundled CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __toolbenchCreateRequire } from 'node:module'; const require = __toolbenchCreateRequire(import.meta.url);" },
  };
  await build({ ...esm, outfile: 'dist/toolbench.mjs' });
  for (const worker of WORKERS) {
    await build({ ...esm, entryPoints: [worker], outfile: `dist/${worker.split('/').pop().replace(/\.ts$/, '.mjs')}` });
  }
}
