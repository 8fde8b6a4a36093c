/**
 * `toolbench setup cuda`: installs onnxruntime-node's CUDA provider (from NuGet through ORT's own
 * installer, or from the npm registry), then says which CUDA libraries the loader cannot find.
 */
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { CUDA_SOURCES, NPM_CUDA_PACKAGE, NPM_CUDA_PACKAGE_URL, PAIRED_ORT_VERSION, installCudaProvider, planCudaSetup, type CudaSource, type InstalledFile } from '../runner/cuda-setup.js';
import { checkCudaLibraries } from '../runner/runner-check.js';
import { createReporter, type CliIo } from './io.js';

interface SetupCudaFlags {
  from?: CudaSource;
  tarball?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  color?: boolean;
}

export function registerSetupCommand(program: Command, io: CliIo): void {
  const setup = program
    .command('setup')
    .description('install optional parts: the CUDA provider of onnxruntime-node')
    .addHelpText('after', '\nRun "toolbench setup cuda --help" for the options and examples.');

  setup
    .command('cuda')
    .description('install the CUDA execution provider beside onnxruntime-node (linux-x64; needs CUDA and cuDNN 9 at run time)')
    .addOption(new Option('--from <source>', 'nuget: onnxruntime-node\'s own installer (api.nuget.org); npm: the providers inside an npm package').choices([...CUDA_SOURCES]))
    .option('--tarball <file>', `the npm package as a .tgz already downloaded (implies --from npm; no network)`)
    .option('--force', `reinstall when installed; with --from npm, install even if onnxruntime-node is not ${PAIRED_ORT_VERSION}`)
    .option('--dry-run', 'say what would be downloaded and written, change nothing')
    .option('--json', 'print the result as one JSON object (installer output goes to stderr)')
    .addHelpText(
      'after',
      `
--from nuget (the default) runs onnxruntime-node's script/install.js, which downloads
Microsoft.ML.OnnxRuntime.Gpu.Linux of the same version from api.nuget.org.
--from npm takes libonnxruntime_providers_{cuda,shared}.so from
${NPM_CUDA_PACKAGE} (ORT ${PAIRED_ORT_VERSION} for CUDA 13 + cuDNN 9,
about 180 MB) with "npm pack", or from --tarball FILE offline.
Either way the CUDA runtime libraries must be on the library path when a model runs: the
command ends with the ones the loader cannot find ("toolbench doctor" shows them too).

Examples:
  $ toolbench setup cuda
  $ toolbench setup cuda --from npm --dry-run
  $ toolbench setup cuda --from npm
  $ npm pack ${NPM_CUDA_PACKAGE}     # on a machine with the registry
  $ toolbench setup cuda --tarball ${basename(NPM_CUDA_PACKAGE_URL)}`,
    )
    .action(async (_flags: unknown, self: Command) => runSetupCuda(self.optsWithGlobals() as SetupCudaFlags, io));
}

async function runSetupCuda(flags: SetupCudaFlags, io: CliIo): Promise<void> {
  const reporter = createReporter(io, { color: flags.color });
  const from: CudaSource = flags.from ?? (flags.tarball !== undefined ? 'npm' : 'nuget');
  const force = flags.force === true;
  const plan = planCudaSetup({
    from,
    ...(flags.tarball !== undefined ? { tarball: flags.tarball } : {}),
    force,
    env: io.env,
    platform: `${process.platform}-${process.arch}`,
    ...(/^node(\.exe)?$/.test(basename(process.execPath)) ? { node: process.execPath } : {}),
  });
  if (from === 'npm' && plan.ortVersion !== PAIRED_ORT_VERSION) {
    reporter.warn(`onnxruntime-node is ${plan.ortVersion ?? 'of unknown version'}, not ${PAIRED_ORT_VERSION}: installing anyway (--force); ORT may refuse to load the provider`);
  }
  const skip = plan.installed && !force;
  let installed: InstalledFile[] = [];
  if (flags.dryRun) {
    if (skip) reporter.info(`the CUDA provider is installed already in ${plan.libraryDir} (--force reinstalls it); nothing to do`);
    else if (!flags.json) io.stdout.write(`would run:\n${plan.steps.map((step) => `  ${step}\n`).join('')}`);
  } else if (skip) {
    reporter.info(`the CUDA provider is installed already in ${plan.libraryDir} (--force reinstalls it)`);
  } else {
    installed = await installCudaProvider(plan, { env: io.env, info: reporter.info, warn: reporter.warn, output: (text) => io.stderr.write(text) });
  }
  const libraries = await checkCudaLibraries(io.env, plan.installed || installed.length > 0 ? plan.libraryDir : undefined);
  const missing = libraries.filter((library) => library.status !== 'found');
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify({
        from,
        source: plan.source,
        library_dir: plan.libraryDir,
        onnxruntime_version: plan.ortVersion ?? null,
        dry_run: flags.dryRun === true,
        already_installed: plan.installed,
        steps: plan.steps,
        installed,
        cuda_libraries: libraries,
        missing_libraries: missing.map((library) => library.name),
      })}\n`,
    );
    return;
  }
  for (const file of installed) io.stdout.write(`installed ${file.path} (${file.bytes >= 1e6 ? `${(file.bytes / 1e6).toFixed(1)} MB` : `${(file.bytes / 1e3).toFixed(1)} kB`})\n`);
  if (flags.dryRun) return;
  const cudaMajor = libraries.map((library) => /^libcudart\.so\.(\d+)$/.exec(library.name)?.[1]).find((major) => major !== undefined) ?? '13';
  if (missing.length === 0) {
    reporter.info(`the CUDA ${cudaMajor} and cuDNN 9 libraries it loads are all on the library path: check with "toolbench doctor --probe"`);
  } else {
    reporter.warn(
      `at run time the CUDA provider needs the CUDA ${cudaMajor} runtime libraries and cuDNN 9 on the library path (LD_LIBRARY_PATH or ldconfig); not found there now: ${missing
        .map((library) => (library.status === 'off-path' ? `${library.name} (in ${library.path}, not on the path)` : library.name))
        .join(', ')}`,
    );
  }
}
