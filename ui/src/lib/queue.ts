import { writable, type Writable } from 'svelte/store';
import type { WindowMessage, Finished, Info, Row, Totals } from './types';

const WINDOW_MS = 5000;

/** The window's model of the queue: rows by id, totals, and the overall
 * transfer rate measured over the last few seconds. */
export class QueueModel {
  rows: Row[] = [];
  totals: Totals = { files: 0, bytes: 0, sent: 0, done: 0, failed: 0, invalid: 0, active: 0, need_sign_in: 0 };
  session: Info | null = null;
  /** The last "added" count, shown at once after a drop. */
  lastAdded: { files: number; problems: number } | null = null;
  finished: Finished[] = [];
  /** Messages received from the shell and the row changes they carried:
   * the window tests read them to see the engine's throttling. */
  messages = 0;
  messageRows = 0;
  private samples: { t: number; sent: number }[] = [];

  reset(rows: Row[]) {
    this.rows = [];
    for (const r of rows) this.rows[r.id] = r;
    this.totals = { ...this.totals, files: rows.length };
  }

  apply(b: WindowMessage, now: number) {
    this.messages++;
    this.messageRows += b.update?.rows.length ?? 0;
    if (b.session) this.session = b.session;
    for (const a of b.added) this.lastAdded = { files: a.files, problems: a.problems };
    if (!b.update) return;
    for (const r of b.update.rows) this.rows[r.id] = r;
    const prev = this.totals.sent;
    this.totals = b.update.totals;
    if (this.totals.sent < prev) this.samples = [];
    this.samples.push({ t: now, sent: this.totals.sent });
    while (this.samples.length > 2 && now - this.samples[0].t > WINDOW_MS) this.samples.shift();
    this.finished.push(...b.update.finished);
  }

  /** Bytes per second over the last few seconds; 0 when idle. */
  rate(now: number): number {
    if (this.totals.active === 0 || this.samples.length < 2) return 0;
    const a = this.samples[0];
    const b = this.samples[this.samples.length - 1];
    const dt = (Math.max(now, b.t) - a.t) / 1000;
    return dt > 0 ? (b.sent - a.sent) / dt : 0;
  }

  /** Seconds left at the current rate, `null` when unknown. */
  eta(now: number): number | null {
    const r = this.rate(now);
    if (r <= 0) return null;
    return (this.totals.bytes - this.totals.sent) / r;
  }

  /** Ids of the rows with these statuses. */
  ids(...statuses: Row['status'][]): number[] {
    return this.rows.filter((r) => r && statuses.includes(r.status)).map((r) => r.id);
  }
}

export function queueStore(): Writable<QueueModel> & { model: QueueModel } {
  const model = new QueueModel();
  const s = writable(model);
  return { ...s, model };
}
