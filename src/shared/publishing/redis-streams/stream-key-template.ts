/**
 * REDIS_STREAM_KEY's placeholders (docs/redis.md, "Keys and slots"):
 * `{tenant_id}` and `{interaction_id}`. On a single server or behind Sentinel a
 * placeholder is replaced without its braces (`ingest:{tenant_id}:audio` →
 * `ingest:t-42:audio`), as it always was. On a Redis Cluster it is replaced
 * KEEPING its braces, so that it becomes the key's hash tag
 * (`ingest:{t-42}:audio`): one tenant's (or one interaction's) records stay on
 * one shard, and its last-seq keys with them (last-seq-key.ts).
 */
import type { RecordBase } from '../records';

export const STREAM_KEY_PLACEHOLDERS = ['{tenant_id}', '{interaction_id}'] as const;

type Placeholder = (typeof STREAM_KEY_PLACEHOLDERS)[number];
type KeyIds = Pick<RecordBase, 'tenant_id' | 'interaction_id'>;

const FIELD: Record<Placeholder, keyof KeyIds> = {
  '{tenant_id}': 'tenant_id',
  '{interaction_id}': 'interaction_id',
};

/** A template split once into literal text and placeholders, rendered per record. */
export type StreamKeyRenderer = (ids: KeyIds) => string;

/**
 * Compiles `template`; `hashTagged` (cluster mode) keeps each placeholder's
 * braces around the value. A template without placeholders renders itself.
 */
export function compileStreamKey(template: string, hashTagged: boolean): StreamKeyRenderer {
  // Even indexes: literal text; odd indexes: the record field a placeholder names.
  const parts: string[] = [];
  const fields = new Set<string>();
  let rest = template;
  for (;;) {
    const found = nextPlaceholder(rest);
    if (!found) break;
    parts.push(rest.slice(0, found.at));
    parts.push(FIELD[found.placeholder]);
    fields.add(FIELD[found.placeholder]);
    rest = rest.slice(found.at + found.placeholder.length);
  }
  parts.push(rest);
  if (fields.size === 0) return () => template;
  return (ids) => {
    let key = '';
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 0) key += parts[i];
      else {
        const value = ids[parts[i] as keyof KeyIds];
        key += hashTagged ? `{${value}}` : value;
      }
    }
    return key;
  };
}

function nextPlaceholder(text: string): { at: number; placeholder: Placeholder } | undefined {
  let best: { at: number; placeholder: Placeholder } | undefined;
  for (const placeholder of STREAM_KEY_PLACEHOLDERS) {
    const at = text.indexOf(placeholder);
    if (at >= 0 && (best === undefined || at < best.at)) best = { at, placeholder };
  }
  return best;
}

/**
 * Why `template` cannot spread records over a cluster's shards: its first
 * `{…}` (what Redis Cluster hashes) is not a placeholder, or it has none, so
 * every record lands in one slot. Undefined when the first `{…}` is a placeholder.
 */
export function untaggedKeyProblem(template: string): string | undefined {
  const open = template.indexOf('{');
  const close = open < 0 ? -1 : template.indexOf('}', open + 1);
  if (open < 0 || close < 0) return 'it has no {…} hash tag, so every record goes to one shard';
  const tag = template.slice(open, close + 1);
  if ((STREAM_KEY_PLACEHOLDERS as readonly string[]).includes(tag)) return undefined;
  return `its hash tag is ${tag}, not a placeholder, so every record goes to one shard`;
}
