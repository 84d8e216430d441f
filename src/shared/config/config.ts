/**
 * Loads the configuration once, in the primary. Convict resolves every value:
 * schema defaults < CONFIG_FILE < environment, each string coerced by its
 * format. What convict cannot do is done here: CONFIG_FILE is keyed by the
 * variable names (users write those, not schema keys), an empty variable
 * counts as unset, and every problem is reported per variable with its value
 * (secrets masked) and its source, where convict's validate() would throw one
 * joined string at the first call.
 */
import fs from 'node:fs';
import convict from 'convict';
import { registerFormats } from './config-formats';
import { applyRules } from './config-rules';
import { shownValue } from './config-mask';
import { schema, type Config } from './config-schema';
import { errorMessage } from '../errors';
import { deepFreeze } from './deep-freeze';
import { isPlainObject } from './plain-object';

export type ConfigSource = 'default' | 'file' | 'env';

export interface ConfigProblem {
  /** The environment variable (or CONFIG_FILE key) at fault. */
  variable: string;
  /** The value as given, secrets masked. */
  value: string;
  /** What would have been accepted. */
  expected: string;
  /** Where the value came from; absent means the environment. */
  source?: ConfigSource;
}

export type ConfigResult =
  | { ok: true; config: Readonly<Config>; warnings: string[] }
  | { ok: false; problems: ConfigProblem[]; warnings: string[] };

/** Names a JSON file whose keys are the same names as the environment variables. */
export const CONFIG_FILE_VARIABLE = 'CONFIG_FILE';

type Key = keyof Config;

const KEYS = Object.keys(schema) as Key[];
const KEY_BY_VARIABLE = new Map<string, Key>(KEYS.map((key) => [schema[key].env, key]));

// Convict finds a custom format only by the name it was registered under.
registerFormats(KEYS.map((key) => schema[key].format));

/** The schema as convict takes it: the same items, each format named as registered. */
const CONVICT_SCHEMA = Object.fromEntries(
  KEYS.map((key) => [key, { ...schema[key], format: schema[key].format.name }]),
) as unknown as convict.Schema<Config>;

/** A value as the user gave it (before coercion), for the report. */
interface Given {
  readonly raw: unknown;
  readonly source: ConfigSource;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ConfigResult {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const file = env[CONFIG_FILE_VARIABLE] ? readConfigFile(env[CONFIG_FILE_VARIABLE], problems) : {};
  // Compose files and shells produce empty variables by accident; convict would take them as ''.
  const setEnv = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const resolved = convict(CONVICT_SCHEMA, { env: setEnv, args: [] }).load(file).getProperties();

  const given = (key: Key): Given | undefined => {
    const variable = schema[key].env;
    // Convict's precedence (environment over file), repeated only to name the source in the report.
    if (Object.hasOwn(setEnv, variable)) return { raw: setEnv[variable], source: 'env' };
    if (Object.hasOwn(file, key)) return { raw: file[key], source: 'file' };
    return undefined;
  };
  const problem = (key: Key, expected: string): void => {
    const from = given(key);
    const raw = from ? from.raw : schema[key].default;
    problems.push({
      variable: schema[key].env,
      value: shownValue(key, raw),
      expected,
      source: from?.source ?? 'default',
    });
  };

  const values: Partial<Config> = {};
  for (const key of KEYS) {
    try {
      schema[key].format.validate(resolved[key]);
      (values as Record<Key, unknown>)[key] = resolved[key];
    } catch (err) {
      problem(key, errorMessage(err));
    }
  }
  applyRules({
    values,
    isSet: (key) => given(key) !== undefined,
    problem,
    warn: (message) => warnings.push(message),
  });
  if (problems.length > 0) return { ok: false, problems, warnings };
  return { ok: true, config: deepFreeze(values as Config), warnings };
}

/** Reads CONFIG_FILE and renames its variable-name keys to the schema keys convict loads. */
function readConfigFile(path: string, problems: ConfigProblem[]): Partial<Record<Key, unknown>> {
  const fail = (expected: string) => {
    problems.push({ variable: CONFIG_FILE_VARIABLE, value: path, expected, source: 'env' });
    return {};
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    return fail(`a readable JSON file (${errorMessage(err)})`);
  }
  if (!isPlainObject(parsed)) return fail('a JSON object keyed by environment variable names');
  const byKey: Partial<Record<Key, unknown>> = {};
  for (const [variable, value] of Object.entries(parsed)) {
    const key = KEY_BY_VARIABLE.get(variable);
    if (key) byKey[key] = value;
    else fail(`only the variable names of docs/config.md as keys ("${variable}" is not one)`);
  }
  return byKey;
}
