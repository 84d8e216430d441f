/**
 * SIGHUP re-reads the configuration before the rolling restart, so that what
 * lives in files (CONFIG_FILE, JWT_PUBLIC_KEY_FILE for key rotation, renewed
 * TLS certificates) reaches the new workers without downtime. The listeners
 * and the worker count belong to the primary and change only with a full
 * restart; a configuration that no longer validates leaves the running
 * workers as they are.
 */
import { loadConfig, type ConfigProblem } from '../shared/config/config';
import { schema, type Config } from '../shared/config/config-schema';
import { needsDevCredentials } from './dev-credentials';

/** Settings a rolling restart cannot change. */
export const FIXED_ON_RELOAD: ReadonlyArray<keyof Config> = [
  'host',
  'port',
  'workers',
  'workerMaxSemiSpaceMb',
  'workerHeapGrowingPercent',
  'metricsPort',
  'metricsHost',
  'metricsScrapeTimeoutMs',
];

export type ReloadOutcome =
  | {
      readonly ok: true;
      readonly config: Readonly<Config>;
      /** Variables whose value changed and will apply to the new workers. */
      readonly changed: string[];
      /** Variables that changed but need a full restart: kept as they were. */
      readonly kept: string[];
      readonly warnings: string[];
    }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

function envName(key: keyof Config): string {
  const entry = schema[key] as { env?: string };
  return entry.env ?? String(key);
}

export function reloadConfig(current: Readonly<Config>, env: NodeJS.ProcessEnv): ReloadOutcome {
  const result = loadConfig(env);
  if (!result.ok) return { ok: false, problems: result.problems };
  const next: Config = { ...result.config };
  // A generated development key stays: the tokens handed out with it keep working.
  if (needsDevCredentials(next)) next.jwtPublicKey = current.jwtPublicKey;
  const kept: string[] = [];
  for (const key of FIXED_ON_RELOAD) {
    if (JSON.stringify(next[key]) === JSON.stringify(current[key])) continue;
    kept.push(envName(key));
    (next as unknown as Record<string, unknown>)[key] = current[key];
  }
  const changed = (Object.keys(next) as Array<keyof Config>)
    .filter((key) => JSON.stringify(next[key]) !== JSON.stringify(current[key]))
    .map(envName);
  return { ok: true, config: Object.freeze(next), changed, kept, warnings: result.warnings };
}
