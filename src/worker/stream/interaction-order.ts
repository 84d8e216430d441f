/**
 * The order of one interaction's sessions within a worker (protocol.md 1.4):
 * when a stream resumes on a new connection, the new session's records go out
 * only after every older session of the same interaction has published or
 * given up everything it held (retention expiry, permanent refusal, shutdown
 * deadline), so two sessions never interleave (the old one's 11–20 after the
 * new one's 11–25).
 *
 * Sessions queue in a line per key (their sequence space, records.ts), in the order they started; the head
 * publishes, the others hold their records (they keep receiving and acking,
 * within their backlog limits). A session that leaves the line (done) lets the
 * next one go when it was the head; one that gives up while waiting just
 * leaves. Lines of any length (reconnect after reconnect) work the same.
 */
export interface Turn {
  /** True when the session may publish at once (no older session of the interaction is still at work). */
  readonly ready: boolean;
  /** The session has published or given up everything: the next one in line may go. Idempotent. */
  done(): void;
}

interface Place {
  readonly onReady: () => void;
}

export class InteractionOrder {
  private readonly lines = new Map<string, Place[]>();

  /** Sessions in line behind another one now. */
  get waiting(): number {
    let count = 0;
    for (const line of this.lines.values()) count += line.length - 1;
    return count;
  }

  /** Takes a place in `key`'s line; `onReady` is called when the session reaches its head (not when ready at once). */
  join(key: string, onReady: () => void): Turn {
    const place: Place = { onReady };
    const line = this.lines.get(key);
    if (line) line.push(place);
    else this.lines.set(key, [place]);
    let left = false;
    return {
      ready: line === undefined,
      done: () => {
        if (left) return;
        left = true;
        this.leave(key, place);
      },
    };
  }

  private leave(key: string, place: Place): void {
    const line = this.lines.get(key);
    if (!line) return;
    const index = line.indexOf(place);
    if (index < 0) return;
    line.splice(index, 1);
    if (line.length === 0) this.lines.delete(key);
    else if (index === 0) line[0].onReady();
  }
}
