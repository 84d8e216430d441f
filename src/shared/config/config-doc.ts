/**
 * Renders docs/config.md from the schema, so the reference page cannot drift
 * from the code: `npm run docs:config` writes it, and
 * test/shared/config/config-doc.test.ts fails when the committed page is stale.
 */
import { schema, SENSITIVE_KEYS, type Config } from './config-schema';

/** Defaults computed on the machine at start-up; printed as words so the page is the same everywhere. */
const MACHINE_DEFAULTS: Partial<Record<keyof Config, string>> = {
  workers: 'available parallelism of the machine',
  maxWorkerBacklogBytes: '1/8 of the V8 heap limit, at least 16 MiB',
};

const MiB = 1024 * 1024;

const INTRO = `# Configuration

<!-- Generated from src/shared/config/config-schema.ts by \`npm run docs:config\`; do not edit by hand. -->

Every setting is an environment variable. Values come from three places; a later one wins:

1. the defaults in the table below;
2. the JSON file named by \`CONFIG_FILE\`, if set. Its keys are the same names as the environment
   variables, for example \`{"PORT": 5000, "KAFKA_BROKERS": ["kafka-1:9092"]}\`; lists may be JSON
   arrays or comma-separated strings. A key that is not a variable below is an error;
3. the environment. An empty variable counts as unset.

The primary validates the configuration once at start-up and reports every problem together, each
naming the variable, the value it got (secrets masked) and what it expected; it then exits with
status 78. \`npm run validate:env\` runs the same check without starting anything (exit status 0 or 78).
Workers receive the validated configuration from the primary and never read it themselves.

## Rules across variables

- \`PUBSUB_ADAPTER\` defaults to \`redis_streams\` when \`NODE_ENV=production\`, and to \`in_memory\` otherwise.
- \`REDIS_URL\` is required when the adapter is \`redis_streams\`; \`KAFKA_BROKERS\` must name at least
  one broker when it is \`kafka\`.
- Set \`JWT_PUBLIC_KEY\` or \`JWT_PUBLIC_KEY_FILE\`, not both. Either must hold PEM public keys (never a
  private key); the file must be readable. With \`NODE_ENV=production\` one of them is required unless
  \`SUPPORT_EXOTEL=true\`.
- \`SSL_KEY_PATH\` and \`SSL_CERT_PATH\` are set together or not at all; both files must be readable and
  the key must belong to the certificate.
- \`MAX_CHUNK_BYTES\` must be at least \`MAX_FRAME_BYTES\`, and \`MAX_STREAM_BACKLOG_BYTES\` at least
  \`MAX_CHUNK_BYTES\`.
- With \`SUPPORT_EXOTEL=true\`, set \`EXOTEL_BASIC_AUTH\` or \`EXOTEL_ALLOWED_CIDRS\`; only
  \`EXOTEL_ALLOW_UNAUTHENTICATED=true\` starts without either, with a warning at every start. Every
  Exotel stream needs a tenant: its \`EXOTEL_BASIC_AUTH\` user's, \`EXOTEL_ACCOUNT_TENANTS\` or
  \`EXOTEL_DEFAULT_TENANT\`. \`EXOTEL_*\` without \`SUPPORT_EXOTEL=true\` is ignored, with a warning.
  Users and account sids appear once each. See [telephony.md](telephony.md).
- \`TWILIO_AUTH_TOKEN\` and \`TWILIO_PUBLIC_URL\` are set together (they turn Twilio Media Streams on),
  and then \`TWILIO_ACCOUNT_TENANTS\` needs at least one entry.
- Warnings, not errors, with \`NODE_ENV=production\`: \`PUBSUB_ADAPTER=in_memory\` (records are lost on
  restart), and neither TLS (\`SSL_*\`) nor \`TRUSTED_PROXIES\` (tokens may travel in clear).

## Variables

Values marked secret are masked in reports and logs.

| Variable | Default | Allowed values | Description |
| --- | --- | --- | --- |
`;

export function renderConfigDoc(): string {
  const rows = (Object.keys(schema) as Array<keyof Config>).map(renderRow);
  return `${INTRO}${rows.join('\n')}\n`;
}

function renderRow(key: keyof Config): string {
  const item = schema[key];
  const secret = SENSITIVE_KEYS.includes(key) ? ' Secret.' : '';
  const cells = [
    `\`${item.env}\``,
    MACHINE_DEFAULTS[key] ?? renderDefault(item.default),
    item.format.name,
    `${item.doc}${secret}`,
  ];
  return `| ${cells.map(escapeCell).join(' | ')} |`;
}

function renderDefault(value: unknown): string {
  if (value === '' || (Array.isArray(value) && value.length === 0)) return '*(empty)*';
  if (Array.isArray(value)) return `\`${value.join(',')}\``;
  if (typeof value === 'number' && value >= MiB && value % MiB === 0) return `\`${value}\` (${value / MiB} MiB)`;
  return `\`${String(value)}\``;
}

/** A pipe would end the table cell, and a newline the row. */
function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

if (require.main === module) process.stdout.write(renderConfigDoc());
