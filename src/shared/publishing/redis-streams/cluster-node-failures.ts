/**
 * Which masters of a Redis Cluster are failing, and why, so that the
 * publisher's health is up only when none is (redis-streams-publisher.ts). A
 * publish that succeeds on one master says nothing of another: without this, a
 * healthy shard's publishes and a dead shard's failures would flip health
 * between up and degraded.
 *
 * - `connection`: the node could not be reached (connection refused or lost, a
 *   command timeout). A PING that it answers clears it, as does a publish to it
 *   that succeeds.
 * - `reply`: the node answered with a retryable refusal (OOM, MISCONF, a WAIT
 *   that fewer replicas than REDIS_WAIT_REPLICAS acknowledged). Answering PING
 *   proves nothing there: only a publish to it that succeeds clears it.
 * A node that leaves the slot map (its replica took over) is cleared too.
 */
export type NodeFailureCause = 'connection' | 'reply';

export class ClusterNodeFailures {
  private readonly failing = new Map<string, { cause: NodeFailureCause; reason: string }>();

  /** `node` (host:port) failed; a later failure's cause and reason replace the earlier. */
  fail(node: string, cause: NodeFailureCause, reason: string): void {
    this.failing.delete(node); // the latest failure is reported first
    this.failing.set(node, { cause, reason });
  }

  /** A publish to `node` succeeded, or it answered PING after a connection failure. */
  clear(node: string): void {
    this.failing.delete(node);
  }

  /** Forgets the nodes that serve no slot any more (`masters`: host:port of the slot map's masters). */
  retain(masters: readonly string[]): void {
    const serving = new Set(masters);
    for (const node of [...this.failing.keys()]) if (!serving.has(node)) this.failing.delete(node);
  }

  /** The nodes failing for want of a connection: the ones a PING can clear. */
  unreachable(): string[] {
    return [...this.failing].filter(([, failure]) => failure.cause === 'connection').map(([node]) => node);
  }

  /** The reason of the latest failure still standing; undefined when no node is failing. */
  reason(): string | undefined {
    let latest: string | undefined;
    for (const { reason } of this.failing.values()) latest = reason;
    return latest;
  }

  get size(): number {
    return this.failing.size;
  }
}
