/**
 * `--verify-kafka`'s spread (docs/kafka.md, "Partitions"): how this run's
 * records and interactions fell over the topic's partitions, every partition
 * listed, the unused ones too. Records are keyed by interaction id, so an
 * interaction counts in one partition, unless partitions were added while it
 * was being published (it then counts in both).
 */

export interface PartitionTally {
  readonly partition: number;
  readonly records: number;
  readonly interactions: number;
}

export class PartitionSpread {
  private readonly byPartition = new Map<number, { records: number; interactions: Set<string> }>();

  /** `partitions`: every partition of the topic, so that one this run never used shows with zeros. */
  constructor(partitions: Iterable<number>) {
    for (const partition of partitions) this.entry(partition);
  }

  /** One record of this run, read from `partition`. */
  add(partition: number, interactionId: string): void {
    const entry = this.entry(partition);
    entry.records++;
    entry.interactions.add(interactionId);
  }

  /** By partition id. */
  summary(): PartitionTally[] {
    return [...this.byPartition]
      .sort(([a], [b]) => a - b)
      .map(([partition, { records, interactions }]) => ({ partition, records, interactions: interactions.size }));
  }

  private entry(partition: number): { records: number; interactions: Set<string> } {
    let entry = this.byPartition.get(partition);
    if (!entry) {
      entry = { records: 0, interactions: new Set() };
      this.byPartition.set(partition, entry);
    }
    return entry;
  }
}
