/**
 * The import rule between layers (docs/architecture.md) is enforced by
 * eslint.config.mjs; these tests lint small probes with the rule exactly as the
 * project configures it for each folder, so a loosened pattern fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint, Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { REPO_ROOT } from '../support/repo-root';

const eslint = new ESLint({ cwd: REPO_ROOT });

/** The messages of the layer rule for `source` if it stood at `file`. */
async function layerProblems(file: string, source: string): Promise<string[]> {
  const config = (await eslint.calculateConfigForFile(path.join(REPO_ROOT, file))) as Linter.Config;
  const rule = config.rules?.['no-restricted-imports'];
  assert.ok(rule, `no import rule applies to ${file}`);
  const linter = new Linter({ configType: 'flat' });
  const messages = linter.verify(
    source,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        rules: { 'no-restricted-imports': rule },
      },
    ],
    { filename: path.join(REPO_ROOT, file) },
  );
  return messages.map((m) => m.message);
}

const REFUSED: ReadonlyArray<[file: string, importPath: string]> = [
  ['src/primary/main.ts', '../worker/main'],
  ['src/primary/pool/supervisor.ts', '../../worker/stream/stream-session'],
  ['src/worker/main.ts', '../primary/config-reload'],
  ['src/worker/http/ingest-server.ts', '../../primary/pool/supervisor'],
  ['src/shared/errors.ts', '../worker/metrics/worker-stats'],
  ['src/shared/config/config.ts', '../../primary/main'],
  ['src/client/cli.ts', '../worker/stream/stream-session'],
  ['src/worker/stream/stream-session.ts', '../http/ingest-server'],
  ['src/worker/stream/stream-session.ts', '../sources/native/native-connection'],
  ['src/worker/stream/frame-buffer.ts', '../admission/upgrade-guard'],
  ['src/worker/sources/native/native-connection.ts', '../../http/ingest-server'],
  ['src/worker/admission/upgrade-guard.ts', '../stream/stream-session'],
  ['src/worker/admission/upgrade-guard.ts', '../sources/telephony/telephony-gate'],
  ['src/worker/metrics/worker-stats.ts', '../stream/stream-session'],
  ['src/worker/http/ingest-server.ts', '../main'],
];

for (const [file, importPath] of REFUSED) {
  test(`layer rule: ${file} may not import ${importPath}`, async () => {
    const problems = await layerProblems(file, `import '${importPath}';\n`);
    assert.equal(problems.length, 1, `expected the import to be refused, got: ${problems.join('; ') || 'none'}`);
  });
}

const ALLOWED: ReadonlyArray<[file: string, importPath: string]> = [
  ['src/primary/main.ts', '../shared/config/config'],
  ['src/worker/main.ts', './http/ingest-server'],
  ['src/worker/http/ingest-server.ts', '../sources/native/native-connection'],
  ['src/worker/sources/native/native-connection.ts', '../../stream/stream-session'],
  ['src/worker/sources/telephony/exotel/exotel-source.ts', '../../../admission/telephony-auth'],
  ['src/worker/stream/stream-session.ts', '../metrics/worker-stats'],
  ['src/worker/stream/stream-session.ts', '../../shared/publishing/publisher'],
];

for (const [file, importPath] of ALLOWED) {
  test(`layer rule: ${file} may import ${importPath}`, async () => {
    assert.deepEqual(await layerProblems(file, `import '${importPath}';\n`), []);
  });
}
