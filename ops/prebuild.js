#!/usr/bin/env node
'use strict';
// `npm run build`'s prebuild step: reports what the service would make of this
// environment (the configuration check of `npm run validate:env`), and never
// fails the build: a developer's shell is rarely the production environment.
//
// It runs before tsc, when dist/ may not exist (a fresh clone) or is about to
// be deleted, and a previous build's validate-env.js could hold older rules.
// So it loads the check from the sources: TypeScript (a dev dependency, there
// whenever the build can run) transpiles each src/ file as Node requires it,
// without type-checking, which tsc does next. One set of rules, the current one.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'src') + path.sep;

function report() {
  const ts = require('typescript');
  const compilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
  };
  // Extensionless requires between the sources resolve to .ts once it is a known extension.
  require.extensions['.ts'] = (module, filename) => {
    if (!filename.startsWith(src)) throw new Error(`prebuild loads TypeScript from src/ only, not ${filename}`);
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
      compilerOptions,
      fileName: filename,
    });
    module._compile(outputText, filename);
  };
  const { checkEnvironment } = require(path.join(src, 'primary', 'validate-env.ts'));
  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  const { ok, report: text } = checkEnvironment(process.env, { color });
  process.stdout.write(`prebuild: this environment, checked as the service would (report only):\n${text}`);
  if (!ok) process.stdout.write('prebuild: the service would not start with it; the build goes on.\n');
}

try {
  report();
} catch (err) {
  process.stdout.write(`prebuild: could not check the environment (${err && err.message}); the build goes on.\n`);
}
// Report-only, whatever happened above.
process.exitCode = 0;
