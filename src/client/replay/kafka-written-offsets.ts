/**
 * Kafka offsets of records a `--group` run has already written but could not
 * commit yet: a partition's commit stops below the first record of a call still
 * open, so records of calls written after it are read again by the next run,
 * which must skip them rather than write those calls a second time. Kept in
 * `DIR/.ingest-replay-kafka.<group>.<topic>.json`; offsets below the committed
 * ones are dropped.
 */
import fs from 'node:fs';
import path from 'node:path';

export class KafkaWrittenOffsets {
  private readonly offsets = new Map<number, Set<bigint>>();
  private readonly file: string;

  constructor(out: string, group: string, topic: string) {
    this.file = path.join(out, `.ingest-replay-kafka.${encodeURIComponent(group)}.${encodeURIComponent(topic)}.json`);
  }

  /** Reads what an earlier run left (nothing when it left no file). */
  load(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const saved = JSON.parse(text) as Record<string, string[]>;
    for (const [partition, list] of Object.entries(saved))
      this.offsets.set(Number(partition), new Set(list.map((o) => BigInt(o))));
  }

  has(partition: number, offset: bigint): boolean {
    return this.offsets.get(partition)?.has(offset) ?? false;
  }

  /** Positions (`partition:offset`) of records written. */
  add(positions: Iterable<string>): void {
    for (const position of positions) {
      const [partition, offset] = position.split(':');
      let set = this.offsets.get(Number(partition));
      if (!set) this.offsets.set(Number(partition), (set = new Set()));
      set.add(BigInt(offset));
    }
  }

  /** Keeps only offsets at or above what is about to be committed, and saves them (before the commit). */
  save(committed: ReadonlyMap<number, bigint>): void {
    const saved: Record<string, string[]> = {};
    for (const [partition, set] of this.offsets) {
      const from = committed.get(partition) ?? 0n;
      for (const offset of set) if (offset < from) set.delete(offset);
      if (set.size > 0) saved[partition] = [...set].sort((a, b) => (a < b ? -1 : 1)).map(String);
    }
    const temporary = `${this.file}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(saved));
    fs.renameSync(temporary, this.file);
  }
}
