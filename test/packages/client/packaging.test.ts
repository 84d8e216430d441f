/**
 * @ingest/client as an integrator gets it: `npm pack` of the built package, installed
 * into a scratch project as node_modules/@ingest/client (with `ws` beside it). `require`
 * and `import` load the Node entry, and the browser entry's import graph holds nothing
 * a browser lacks: no `node:` or `ws` import, no Buffer, process or require. Without `ws`
 * (an optional peer) the Node entry still loads, and works with an injected WebSocket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { installPacked } from '../../support/packed-package';
import { REPO_ROOT } from '../../support/repo-root';

const PACKAGE_DIR = path.join(REPO_ROOT, 'packages', 'client');
/** Globals of Node.js that a browser does not have. */
const NODE_ONLY_GLOBALS = new Set(['Buffer', 'process', 'require', '__dirname', '__filename', 'global', 'module']);

/** Packs and installs the package into a fresh scratch project; returns the project's folder. */
function install(t: { after: (fn: () => void) => void }, withWs = true): string {
  const project = installPacked(t, ['client'], withWs ? ['ws'] : []);
  const paths = project.packed.get('client') ?? [];
  assert.ok(paths.includes('dist/esm/index.js') && paths.includes('dist/cjs/node.js'), 'the build is packed');
  assert.ok(paths.includes('dist/types/index.d.ts') && paths.includes('dist/types/node.d.ts'), 'types are packed');
  assert.ok(!paths.some((p) => p.startsWith('src/')), 'sources are not packed');
  return project.dir;
}

function runNode(project: string, args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: project, encoding: 'utf8' }).trim();
}

test('packaging: npm pack installs; require and import load the Node entry, the browser entry loads', (t) => {
  const project = install(t);
  const required = runNode(project, [
    '-e',
    "const c = require('@ingest/client'); console.log(require.resolve('@ingest/client'), " +
      'typeof c.IngestClient, typeof c.IngestClientError, c.PROTOCOL)',
  ]);
  assert.match(required, /node_modules\/@ingest\/client\/dist\/cjs\/node\.js function function ingest\.v1$/);
  const imported = runNode(project, [
    '--input-type=module',
    '-e',
    "const c = await import('@ingest/client'); console.log(import.meta.resolve('@ingest/client'), " +
      'typeof c.IngestClient, typeof c.IngestClientError)',
  ]);
  assert.match(imported, /node_modules\/@ingest\/client\/dist\/esm\/node\.js function function$/);
  const browser = runNode(project, [
    '--input-type=module',
    '-e',
    "const c = await import('./node_modules/@ingest/client/dist/esm/index.js'); " +
      "console.log(typeof c.IngestClient, typeof c.IngestClientError, 'IngestClient' in c)",
  ]);
  assert.equal(browser, 'function function true');
});

test('packaging: without ws the Node entry loads, takes an injected WebSocket, and says what is missing', (t) => {
  const project = install(t, false);
  // Outside the repository, so that nothing resolves the repository's own node_modules/ws.
  const resolved = "try { require.resolve('ws'); console.log('found'); } catch { console.log('missing'); }";
  assert.equal(runNode(project, ['-e', resolved]), 'missing', 'ws is not installed');
  const script = (loader: string): string =>
    `const { IngestClient } = ${loader};` +
    "const opts = { url: 'ws://127.0.0.1:9/v1/ingest', token: 't', interactionId: 'no-ws' };" +
    'const injected = new IngestClient({ ...opts, WebSocket: globalThis.WebSocket });' +
    "new IngestClient(opts).start().then(() => console.log('started'), (e) => { injected.close();" +
    'console.log(e.code, e.message); });';
  for (const [args, loader] of [
    [['-e'], "require('@ingest/client')"],
    [['--input-type=module', '-e'], "await import('@ingest/client')"],
  ] as const) {
    const out = runNode(project, [...args, script(loader)]);
    assert.match(out, /^invalid_options .*needs the ws package/, `${loader}: ${out}`);
  }
});

test('packaging: the browser entry imports only its own files, and uses no Node.js global', () => {
  const esm = path.join(PACKAGE_DIR, 'dist', 'esm');
  const seen = new Set<string>();
  const queue = [path.join(esm, 'index.js')];
  const problems: string[] = [];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      let specifier: string | undefined;
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
        specifier = (node.moduleSpecifier as ts.StringLiteral).text;
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const [arg] = node.arguments;
        specifier = arg && ts.isStringLiteral(arg) ? arg.text : '<computed>';
      }
      if (specifier !== undefined) {
        if (!specifier.startsWith('./') || !specifier.endsWith('.js')) {
          problems.push(`${path.basename(file)} imports ${specifier}`);
        } else {
          queue.push(path.resolve(path.dirname(file), specifier));
        }
      }
      if (ts.isIdentifier(node) && NODE_ONLY_GLOBALS.has(node.text)) {
        problems.push(`${path.basename(file)} uses ${node.text}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(problems, []);
  const files = [...seen].map((f) => path.basename(f));
  assert.ok(files.includes('ingest-client.js') && files.includes('websocket-transport.js'), files.join(', '));
  assert.ok(!files.includes('ws-transport.js') && !files.includes('node-client.js'), 'no Node transport in it');
});
