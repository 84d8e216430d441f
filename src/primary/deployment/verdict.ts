/**
 * What each probe of `npm run validate:deployment` (ops/validate-deployment.sh)
 * prints: one line, `<level> <message>`, which the script colours and counts.
 * A probe that throws prints a red line rather than a stack, so the script
 * always has a verdict to show.
 */
import { loadConfig } from '../../shared/config/config';
import type { Config } from '../../shared/config/config-schema';
import { errorMessage } from '../../shared/errors';

/** `skip`: the check does not apply, or cannot run because an earlier one failed (that one is red). */
export type Level = 'green' | 'yellow' | 'red' | 'skip';

export interface Verdict {
  readonly level: Level;
  readonly message: string;
}

/** Runs one probe and prints its verdict; exit 1 on red (or a throw), else 0. */
export function runProbe(probe: () => Promise<Verdict> | Verdict): void {
  void (async () => {
    let verdict: Verdict;
    try {
      verdict = await probe();
    } catch (err) {
      verdict = { level: 'red', message: errorMessage(err) };
    }
    process.stdout.write(`${verdict.level} ${verdict.message.replace(/\s*\n\s*/g, '; ')}\n`);
    process.exitCode = verdict.level === 'red' ? 1 : 0;
  })();
}

/**
 * The configuration the service would start with, through its own loader. An
 * invalid one is the configuration check's red line; the probes that need it
 * skip rather than repeat it.
 */
export function configuredOr(
  check: (config: Readonly<Config>) => Promise<Verdict> | Verdict,
): Promise<Verdict> | Verdict {
  const result = loadConfig(process.env);
  if (!result.ok) return { level: 'skip', message: 'not checked: the configuration is invalid (see its line)' };
  return check(result.config);
}

/** Settles with `promise`, or rejects once `ms` have passed (the probes' bound on a silent peer). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
