/**
 * The primary validates the configuration once and hands each worker the
 * result through the environment as JSON, so workers never read files or
 * variables themselves (and cannot disagree with the primary).
 */
import { errorMessage, IngestError } from '../errors';
import { schema, type Config } from './config-schema';
import { deepFreeze } from './deep-freeze';
import { isPlainObject } from './plain-object';

/** The environment variable through which the primary hands each worker its configuration. */
export const WORKER_CONFIG_ENV = 'INGEST_CONFIG';

export function configToJson(config: Readonly<Config>): string {
  return JSON.stringify(config);
}

/** Rebuilds a config made by configToJson: checks its shape only, not the rules again. */
export function configFromJson(json: string): Readonly<Config> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new IngestError('config_invalid', `configuration JSON does not parse: ${errorMessage(err)}`, { cause: err });
  }
  if (!isPlainObject(parsed)) throw new IngestError('config_invalid', 'configuration JSON is not an object');
  for (const [key, item] of Object.entries(schema)) {
    if (kindOf(parsed[key]) !== kindOf(item.default)) {
      throw new IngestError('config_invalid', `configuration JSON: ${key} is missing or not a ${kindOf(item.default)}`);
    }
  }
  const extra = Object.keys(parsed).filter((k) => !Object.hasOwn(schema, k));
  if (extra.length > 0)
    throw new IngestError('config_invalid', `configuration JSON has unknown keys: ${extra.join(', ')}`);
  return deepFreeze(parsed as unknown as Config);
}

function kindOf(value: unknown): string {
  return Array.isArray(value) ? 'array' : typeof value;
}
