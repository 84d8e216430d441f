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

type Lines = Map<string, Place[]>;

/** A session's place in its line, and its Turn: one object per session, its methods shared. */
class Place implements Turn {
  private left = false;

  constructor(
    private readonly lines: Lines,
    private readonly key: string,
    readonly onReady: () => void,
    readonly ready: boolean,
  ) {}

  done(): void {
    if (this.left) return;
    this.left = true;
    const line = this.lines.get(this.key);
    if (!line) return;
    const index = line.indexOf(this);
    if (index < 0) return;
    line.splice(index, 1);
    if (line.length === 0) this.lines.delete(this.key);
    else if (index === 0) line[0].onReady();
  }
}

export class InteractionOrder {
  private readonly lines: Lines = new Map();

  /** Sessions in line behind another one now. */
  get waiting(): number {
    let count = 0;
    for (const line of this.lines.values()) count += line.length - 1;
    return count;
  }

  /** Takes a place in `key`'s line; `onReady` is called when the session reaches its head (not when ready at once). */
  join(key: string, onReady: () => void): Turn {
    const line = this.lines.get(key);
    const place = new Place(this.lines, key, onReady, line === undefined);
    if (line) line.push(place);
    else this.lines.set(key, [place]);
    return place;
  }
}
