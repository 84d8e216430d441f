#!/usr/bin/env node
'use strict';
// `npm run build`'s last step: builds each publishable package under packages/
// (one folder each, with its own package.json and tsconfig.json) three ways,
// from the same sources:
//   dist/esm    ES modules (`import`, and the browser build: no bundler needed,
//               relative imports carry their .js extension)
//   dist/cjs    CommonJS (`require`)
//   dist/types  declarations, which both share
// Each output folder gets a package.json with its module "type", so that Node
// reads the .js files as what they are whatever the package's own "type" says.
// The root tsc compiles the same sources into dist/packages for the repository's
// own tests and CLIs; this is what `npm pack` in a package folder publishes.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.resolve(__dirname, '..');
const packagesDir = path.join(root, 'packages');

/** The three outputs: folder, compiler options over the package's tsconfig, the "type" to write. */
const OUTPUTS = [
  {
    dir: 'esm',
    options: { module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler },
    type: 'module',
  },
  {
    dir: 'cjs',
    options: { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 },
    type: 'commonjs',
  },
  { dir: 'types', options: { declaration: true, emitDeclarationOnly: true }, type: null },
];

function parseConfig(configFile) {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) };
  const parsed = ts.getParsedCommandLineOfConfigFile(configFile, {}, host);
  if (parsed.errors.length > 0) fail(parsed.errors);
  return parsed;
}

function fail(diagnostics) {
  const text = ts.formatDiagnosticsWithColorAndContext(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  });
  process.stderr.write(text);
  process.exit(1);
}

function buildPackage(dir) {
  const parsed = parseConfig(path.join(dir, 'tsconfig.json'));
  const dist = path.join(dir, 'dist');
  fs.rmSync(dist, { recursive: true, force: true });
  for (const output of OUTPUTS) {
    const outDir = path.join(dist, output.dir);
    const options = { ...parsed.options, ...output.options, outDir, noEmit: false, sourceMap: false };
    const program = ts.createProgram(parsed.fileNames, options);
    const { diagnostics } = program.emit();
    const all = [...ts.getPreEmitDiagnostics(program), ...diagnostics];
    if (all.length > 0) fail(all);
    if (output.type) fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify({ type: output.type })}\n`);
  }
  return path.relative(root, dir);
}

function main() {
  const built = fs
    .readdirSync(packagesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(packagesDir, e.name, 'tsconfig.json')))
    .map((e) => buildPackage(path.join(packagesDir, e.name)));
  process.stdout.write(`build-packages: built ${built.join(', ')} (esm, cjs, types)\n`);
}

if (require.main === module) main();
module.exports = { OUTPUTS };
