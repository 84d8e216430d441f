/** A JSON object (not null, not an array): what CONFIG_FILE and the worker hand-off must parse to. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
