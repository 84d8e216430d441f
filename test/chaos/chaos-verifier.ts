/**
 * Reads the verdict out of the backend: every stored audio record is cut back
 * into its 320-byte frames, each frame compared byte for byte with what its
 * (stream, seq) must contain, and counted per interaction as found (first
 * copy), duplicated (another copy of a seq already found) or corrupt (bytes
 * that are not that frame). Records of one interaction may overlap after a
 * resume, with other boundaries: frames are deduplicated by seq, never by
 * record. Lost = committed but not found: the one number that must be zero.
 *
 * Records are fed in the backend's order (one Redis stream; one Kafka
 * partition per interaction), so the verifier also counts the frames that
 * arrive after a higher seq of their interaction: a consumer that
 * deduplicates as protocol.md §3 says (skip what is at or below the highest
 * seq taken) would skip them, which is the interleaving of two sessions of
 * one interaction that the service must prevent.
 */
import type { FieldMap } from '../support/field-map';
import { FRAME_BYTES, isChaosFrame } from './chaos-frames';
import type { LoadClient } from './load-client';

export interface InteractionTally {
  readonly interactionId: string;
  /** Distinct frames sent at least once (seq 1..sent). */
  readonly sent: number;
  /** Frame writes, re-sends after resumes included. */
  readonly writes: number;
  readonly acked: number;
  readonly committed: number;
  found: number;
  duplicated: number;
  corrupt: number;
  lost: number;
  /** Frames whose first copy came after a higher seq of the interaction (see the file comment). */
  outOfOrder: number;
  /** The highest seq found so far, in backend order. */
  highestFound: number;
  /** Sent, never confirmed, and not in the backend: possible only for a stream that gave up. */
  missingUnconfirmed: number;
  readonly connections: number;
  readonly outcome: string;
  readonly closes: ReadonlyMap<string, number>;
}

export interface Verdict {
  readonly interactions: InteractionTally[];
  readonly records: number;
  /** Records naming an interaction this run never sent, or malformed audio records. */
  readonly strayRecords: number;
  readonly problems: string[];
}

export class ChaosVerifier {
  private readonly byId = new Map<string, { client: LoadClient; seen: Uint8Array; tally: InteractionTally }>();
  private records = 0;
  private strayRecords = 0;
  private readonly problems: string[] = [];

  constructor(clients: readonly LoadClient[]) {
    for (const client of clients) {
      const tally: InteractionTally = {
        interactionId: client.interactionId,
        sent: client.highestSent,
        writes: client.writes,
        acked: client.acked,
        committed: client.committed,
        found: 0,
        duplicated: 0,
        corrupt: 0,
        lost: 0,
        outOfOrder: 0,
        highestFound: 0,
        missingUnconfirmed: 0,
        connections: client.connections,
        outcome: client.failure ? `failed: ${client.failure}` : client.state,
        closes: client.closes,
      };
      this.byId.set(client.interactionId, { client, seen: new Uint8Array(client.highestSent + 1), tally });
    }
  }

  /** One stored record, in any order. */
  add(record: FieldMap): void {
    this.records++;
    if (record.get('type')?.toString() !== 'audio') return;
    const id = record.get('interaction_id')?.toString() ?? '';
    const entry = this.byId.get(id);
    const start = Number(record.get('seq_start')?.toString());
    const end = Number(record.get('seq_end')?.toString());
    const payload = record.get('payload');
    if (!entry || !payload || !Number.isInteger(start) || !Number.isInteger(end) || start < 1 || end < start) {
      this.stray(`audio record of ${id || '?'} seq ${start}-${end} unreadable or of no stream of this run`);
      return;
    }
    const { client, seen, tally } = entry;
    const count = end - start + 1;
    const shape = shapeProblem(record, count);
    if (payload.length !== count * FRAME_BYTES || shape) {
      this.stray(`${id}: record ${start}-${end}: ${shape ?? `${payload.length} bytes, not ${count} frames`}`);
      tally.corrupt += count;
      return;
    }
    for (let seq = start; seq <= end; seq++) {
      const offset = (seq - start) * FRAME_BYTES;
      const bytes = payload.subarray(offset, offset + FRAME_BYTES);
      if (seq >= seen.length || !isChaosFrame(bytes, client.index, seq)) {
        tally.corrupt++;
        continue;
      }
      if (seen[seq]) tally.duplicated++;
      else {
        seen[seq] = 1;
        tally.found++;
        if (seq < tally.highestFound) tally.outOfOrder++;
        tally.highestFound = Math.max(tally.highestFound, seq);
      }
    }
  }

  verdict(): Verdict {
    for (const { seen, tally } of this.byId.values()) {
      for (let seq = 1; seq <= tally.sent; seq++) {
        if (seen[seq]) continue;
        if (seq <= tally.committed) tally.lost++;
        else tally.missingUnconfirmed++;
      }
    }
    return {
      interactions: [...this.byId.values()].map((e) => e.tally),
      records: this.records,
      strayRecords: this.strayRecords,
      problems: this.problems,
    };
  }

  private stray(problem: string): void {
    this.strayRecords++;
    if (this.problems.length < 20) this.problems.push(problem);
  }
}

/** What is wrong with an audio record's declared frame count and sizes, if anything (all frames are 320 bytes). */
function shapeProblem(record: FieldMap, count: number): string | undefined {
  const frames = record.get('frames')?.toString();
  if (frames !== undefined && Number(frames) !== count) return `frames ${frames}, not ${count}`;
  const frameBytes = record.get('frame_bytes')?.toString();
  if (frameBytes !== undefined && Number(frameBytes) !== FRAME_BYTES) return `frame_bytes ${frameBytes}`;
  const frameSizes = record.get('frame_sizes')?.toString();
  if (frameSizes !== undefined && frameSizes !== `${FRAME_BYTES}x${count}`) return `frame_sizes ${frameSizes}`;
  return undefined;
}
