/**
 * Every exit status either process ends with (docs/architecture.md, "Exit
 * codes"). Only the entry points call process.exit; they take the number here.
 */
export const EXIT = Object.freeze({
  /** Clean shutdown: everything buffered was published. */
  ok: 0,
  /** Primary: could not start (port in use, failing workers, a crash). Worker: uncaught exception. */
  failed: 1,
  /** Worker: start-up failure (backend unreachable, unusable keys); the primary replaces it with backoff. */
  startupFailed: 69,
  /** Shutdown deadline passed, or a worker lost data, exited non-zero or was killed. */
  dataLost: 70,
  /** Invalid configuration (EX_CONFIG). */
  configInvalid: 78,
});
