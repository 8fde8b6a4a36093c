// Bundles the program into one ESM file that bin/toolbench loads: `npm run build`.
// onnxruntime-node stays outside the bundle: it loads native code from its own package folder.
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

if (import.meta.url === `file://${process.argv[1]}`) {
  await build({
    ...COMMON,
    format: 'esm',
    outfile: 'dist/toolbench.mjs',
    // Bundled CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __toolbenchCreateRequire } from 'node:module'; const require = __toolbenchCreateRequire(import.meta.url);" },
  });
}
