/**
 * Delivers the client's events to listeners (`on`/`off`) and to async iterators
 * (`events()`), in order. `closed` is the last event: after it every iterator ends.
 * Each iterator queues what it has not read yet; the client emits a bounded number
 * of events per frame, so an unread iterator grows with the stream: read it or
 * `return()` it.
 */
import type { EventOf, IngestClientEvent, IngestClientEventType, Listener } from './client-events.js';

interface Reader {
  readonly queue: IngestClientEvent[];
  wake: (() => void) | undefined;
  done: boolean;
}

export class EventChannel {
  private readonly listeners = new Map<IngestClientEventType, Set<(event: IngestClientEvent) => void>>();
  private readonly readers = new Set<Reader>();
  private closedEvent: EventOf<'closed'> | undefined;

  on<T extends IngestClientEventType>(type: T, listener: Listener<T>): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as (event: IngestClientEvent) => void);
  }

  off<T extends IngestClientEventType>(type: T, listener: Listener<T>): void {
    this.listeners.get(type)?.delete(listener as (event: IngestClientEvent) => void);
  }

  emit(event: IngestClientEvent): void {
    if (this.closedEvent) return;
    if (event.type === 'closed') this.closedEvent = event;
    for (const reader of this.readers) {
      reader.queue.push(event);
      reader.wake?.();
    }
    for (const listener of [...(this.listeners.get(event.type) ?? [])]) {
      try {
        listener(event);
      } catch (err) {
        // A listener's bug must not break the client's state machine: report it out of band.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    if (event.type === 'closed') this.listeners.clear();
  }

  /** Every event from now on; after `closed`, only `closed` again (so a late reader learns why). */
  iterate(): AsyncIterableIterator<IngestClientEvent> {
    const reader: Reader = { queue: this.closedEvent ? [this.closedEvent] : [], wake: undefined, done: false };
    if (!this.closedEvent) this.readers.add(reader);
    const finish = (): IteratorResult<IngestClientEvent> => {
      reader.done = true;
      reader.queue.length = 0;
      this.readers.delete(reader);
      return { done: true, value: undefined };
    };
    const iterator: AsyncIterableIterator<IngestClientEvent> = {
      next: async () => {
        while (!reader.done) {
          const event = reader.queue.shift();
          if (event) {
            if (event.type === 'closed') reader.done = true;
            return { done: false, value: event };
          }
          await new Promise<void>((resolve) => (reader.wake = resolve));
          reader.wake = undefined;
        }
        return finish();
      },
      return: () => {
        const result = finish();
        reader.wake?.();
        return Promise.resolve(result);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
