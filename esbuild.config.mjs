// Bundles the program into one ESM file that bin/toolbench loads: `npm run build`.
// onnxruntime-node stays outside the bundle: it loads native code from its own package folder.
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const EXTERNAL = ['onnxruntime-node'];

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
  await build({
    ...COMMON,
    format: 'esm',
    outfile: 'dist/toolbench.mjs',
    // Bundled CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __toolbenchCreateRequire } from 'node:module'; const require = __toolbenchCreateRequire(import.meta.url);" },
  });
}
