import { describe, expect, it } from 'vitest';
import { defaultUntil, progress, refusal, toggle, totals } from './model';
import type { Linkage, Row } from '../types';

const row = (path: string, status: Row['status']): Row => ({
  id: 0,
  name: path.split('/').pop()!,
  path,
  size: 1,
  status,
  sent: 0,
  parts: '',
  error: null,
  warning: null,
  remote_id: null,
  sha256: null,
});

describe('wizard model', () => {
  it('toggles excluded rows', () => {
    expect(toggle([], 's1')).toEqual(['s1']);
    expect(toggle(['s1', 's2'], 's1')).toEqual(['s2']);
  });
  it('counts each file once, however many rows share it', () => {
    const l = {
      rows: [
        { id: 'a', files: { rawReads: [{ name: 'x', relative: 'x', size: 10, fileId: null }] } },
        {
          id: 'b',
          files: {
            rawReads: [
              { name: 'x', relative: 'x', size: 10, fileId: null },
              { name: 'old', relative: null, size: 0, fileId: 'f1' },
            ],
          },
        },
      ],
    } as unknown as Linkage;
    expect(totals(l)).toEqual({ files: 1, bytes: 10 });
  });
  it('follows the latest row of each batch file', () => {
    const rows = [row('/b/x', 'failed'), row('/b/y', 'done'), row('/other', 'done'), row('/b/x', 'done')];
    expect(progress(['/b/x', '/b/y', '/b/z'], rows)).toEqual({ done: 2, failed: 0 });
    expect(progress(['/b/x'], [row('/b/x', 'failed')])).toEqual({ done: 0, failed: 1 });
  });
  it('reads a refused submit, rows and all', () => {
    const r = refusal({ message: 'the portal refused', rows: { s1: 'Record #1 with id s1 ...' } });
    expect(r.rows).toEqual({ s1: 'Record #1 with id s1 ...' });
    expect(r.message).toBe('the portal refused');
    expect(refusal('plain text')).toEqual({ message: 'plain text', rows: {} });
  });

  it('starts a restriction six months on', () => {
    expect(defaultUntil(new Date(Date.UTC(2026, 11, 1)))).toBe('2027-06-01');
  });
});
