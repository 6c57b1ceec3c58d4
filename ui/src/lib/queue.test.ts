import { describe, expect, it } from 'vitest';
import { QueueModel } from './queue';
import type { WindowMessage, Row, Totals } from './types';

const row = (id: number, over: Partial<Row> = {}): Row => ({
  id,
  name: `f${id}.fq`,
  path: `/data/f${id}.fq`,
  size: 100,
  status: 'ready',
  sent: 0,
  parts: '',
  error: null,
  warning: null,
  remote_id: null,
  sha256: null,
  ...over,
});
const totals = (over: Partial<Totals> = {}): Totals => ({
  files: 2,
  bytes: 2000,
  sent: 0,
  done: 0,
  failed: 0,
  invalid: 0,
  active: 1,
  need_sign_in: 0,
  ...over,
});
const message = (rows: Row[], t: Totals, extra: Partial<WindowMessage> = {}): WindowMessage => ({
  update: { rows, totals: t, finished: [] },
  added: [],
  session: null,
  ...extra,
});

describe('QueueModel', () => {
  it('applies changed rows by id and keeps the others', () => {
    const q = new QueueModel();
    q.reset([row(0), row(1)]);
    q.apply(message([row(1, { status: 'sending', sent: 50, parts: 'sw' })], totals()), 0);
    expect(q.rows[0].status).toBe('ready');
    expect(q.rows[1].status).toBe('sending');
    expect(q.rows[1].parts).toBe('sw');
    expect(q.ids('sending')).toEqual([1]);
  });

  it('measures bytes per second and the time left', () => {
    const q = new QueueModel();
    q.apply(message([], totals({ sent: 0 })), 0);
    q.apply(message([], totals({ sent: 500 })), 1000);
    q.apply(message([], totals({ sent: 1000 })), 2000);
    expect(q.rate(2000)).toBe(500);
    expect(q.eta(2000)).toBe(2);
  });

  it('reports no rate when nothing is active', () => {
    const q = new QueueModel();
    q.apply(message([], totals({ sent: 0 })), 0);
    q.apply(message([], totals({ sent: 1000, active: 0 })), 1000);
    expect(q.rate(1000)).toBe(0);
    expect(q.eta(1000)).toBeNull();
  });

  it('forgets old samples and restarts when bytes go back (a file resent)', () => {
    const q = new QueueModel();
    q.apply(message([], totals({ sent: 0 })), 0);
    q.apply(message([], totals({ sent: 1000 })), 1000);
    q.apply(message([], totals({ sent: 100 })), 2000);
    q.apply(message([], totals({ sent: 300 })), 3000);
    expect(q.rate(3000)).toBe(200);
  });

  it('keeps added counts, finished batches and the session', () => {
    const q = new QueueModel();
    q.apply(
      {
        update: { rows: [], totals: totals(), finished: [{ done: 2, failed: 1, stopped: 0 }] },
        added: [{ files: 3, problems: 1, bytes: 300 }],
        session: { portal: null, user: 'demo', group: 1, keychain: null, journal: null, target: null },
      },
      0,
    );
    expect(q.lastAdded).toEqual({ files: 3, problems: 1 });
    expect(q.finished).toEqual([{ done: 2, failed: 1, stopped: 0 }]);
    expect(q.session?.user).toBe('demo');
  });

  it('takes 10,000 rows in one batch, and counts batches and row changes', () => {
    const q = new QueueModel();
    const rows = Array.from({ length: 10000 }, (_, i) => row(i));
    q.apply(message(rows, totals({ files: 10000 })), 0);
    q.apply(message(rows.map((r) => ({ ...r, status: 'done' as const })), totals({ files: 10000 })), 100);
    // A batch with no queue update (a session change) counts, with no rows.
    q.apply({ update: null, added: [], session: null }, 200);
    expect(q.ids('done')).toHaveLength(10000);
    expect(q.messages).toBe(3);
    expect(q.messageRows).toBe(20000);
  });
});
