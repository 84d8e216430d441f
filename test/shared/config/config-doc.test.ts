import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { renderConfigDoc } from '../../../src/shared/config/config-doc';

import { REPO_ROOT as root } from '../../support/repo-root';

test('docs/config.md is generated from the schema and up to date', () => {
  const committed = fs.readFileSync(path.join(root, 'docs', 'config.md'), 'utf8');
  assert.ok(
    committed === renderConfigDoc(),
    'docs/config.md is stale: run `npm run docs:config` and commit the result',
  );
});

test('docs/config.md documents every variable with its default and allowed values', () => {
  const doc = renderConfigDoc();
  assert.match(doc, /^\| `PORT` \| `5000` \| int 1-65535 \| /m);
  assert.match(doc, /^\| `PUBSUB_ADAPTER` \| `in_memory` \| in_memory \\\| redis_streams \\\| kafka \| /m);
  assert.match(doc, /^\| `WORKERS` \| available parallelism of the machine \| /m);
  assert.match(doc, /the JSON file named by `CONFIG_FILE`/);
});
