// Type-aware lint rules (typescript-eslint): the checks that matter most here
// are about promises (a floating or misused promise loses an error, or data).
// The layer rules below keep the architecture of docs/architecture.md true.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** An import whose path contains one of these folders, as its own path segment. */
const into = (...folders) => `(^|/)(${folders.join('|')})(/|$)`;

/**
 * Which folders each layer may not import from: a layer imports only from
 * layers below it (docs/architecture.md, "Layers and the import rule").
 */
const WORKER_BANS = ['primary', 'client', 'packages'];
const LAYERS = [
  {
    // A package is published on its own: it imports only its own files and its declared dependencies.
    files: ['packages/**'],
    banned: ['src', 'packages', 'test'],
    why: 'a package under packages/ is published alone: it imports nothing of the repository outside itself',
  },
  {
    files: ['src/shared/**'],
    banned: ['primary', 'worker', 'client', 'packages'],
    why: 'shared code is used by both processes: it imports neither',
  },
  {
    files: ['src/primary/**'],
    banned: ['worker', 'client', 'packages'],
    why: 'the primary never imports worker code (move what both need to src/shared)',
  },
  {
    files: ['src/worker/**'],
    banned: WORKER_BANS,
    why: 'the worker never imports primary code (move what both need to src/shared)',
  },
  {
    files: ['src/client/**'],
    banned: ['primary', 'worker'],
    why: 'the client talks to the service only over the wire',
  },
  { files: ['src/worker/http/**'], banned: [...WORKER_BANS, 'main'], why: 'http/ is below the worker entry point' },
  {
    files: ['src/worker/sources/**'],
    banned: [...WORKER_BANS, 'http', 'main'],
    why: 'sources/ are below http/: the router calls them, not the reverse',
  },
  {
    files: ['src/worker/admission/**'],
    banned: [...WORKER_BANS, 'http', 'sources', 'stream', 'main'],
    why: 'admission/ decides who gets in; it knows nothing of routing, dialects or streams',
  },
  {
    files: ['src/worker/stream/**'],
    banned: [...WORKER_BANS, 'http', 'sources', 'admission', 'main'],
    why: 'stream/ is the engine under every source: it imports no source, router or admission code',
  },
  {
    files: ['src/worker/metrics/**'],
    banned: [...WORKER_BANS, 'http', 'sources', 'admission', 'stream', 'main'],
    why: 'metrics/ holds plain counters that every layer bumps',
  },
];

/** What the browser demo's scripts use of the window's and the AudioWorkletGlobalScope's globals. */
const BROWSER_DEMO_GLOBALS = Object.fromEntries(
  [
    'window',
    'document',
    'location',
    'navigator',
    'performance',
    'fetch',
    'URLSearchParams',
    'btoa',
    'setTimeout',
    'AudioContext',
    'OfflineAudioContext',
    'AudioWorkletNode',
    'AudioBufferSourceNode',
    'MediaStreamAudioSourceNode',
    'AudioWorkletProcessor',
    'registerProcessor',
    'sampleRate',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  {
    ignores: [
      'eslint.config.mjs',
      'dist/',
      'packages/*/dist/',
      'node_modules/',
      '.cache/',
      'test/support/backends/*.js',
      'test/run-tests.js',
      'ops/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // An async function without await is how an adapter promises "every outcome is a rejection, never a throw".
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Prettier wraps code at 120 columns but leaves long strings and comments alone.
      'max-len': ['error', { code: 120, ignoreUrls: true }],
    },
  },
  // A later block replaces an earlier one's no-restricted-imports for the files
  // both match, so each worker layer repeats the worker-wide bans (WORKER_BANS).
  ...LAYERS.map(({ files, banned, why }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: into(...banned), message: why }] }] },
  })),
  // The browser demo's page and AudioWorklet scripts: plain ES modules the demo server serves as they are
  // (no tsc, so no type information), in a window or an AudioWorkletGlobalScope.
  {
    files: ['src/client/demo/public/**'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'module', globals: BROWSER_DEMO_GLOBALS },
  },
);
