// The wizard's pure logic, kept apart from the component so it can be
// tested: which step comes next, what is excluded, how far the upload is.
import type { Linkage, Refused, Row } from '../types';

export type Step = 'folder' | 'review' | 'upload' | 'result';

/** Rows the user left out, toggled one at a time. */
export function toggle(excluded: string[], id: string): string[] {
  return excluded.includes(id) ? excluded.filter((x) => x !== id) : [...excluded, id];
}

/** Files the batch sends, and the bytes, as the review shows them. */
export function totals(l: Linkage): { files: number; bytes: number } {
  const seen = new Set<string>();
  let bytes = 0;
  for (const r of l.rows)
    for (const list of Object.values(r.files))
      for (const f of list)
        if (f.relative && !seen.has(f.relative)) {
          seen.add(f.relative);
          bytes += f.size;
        }
  return { files: seen.size, bytes };
}

/** How many of the batch's files the portal accepted, and how many failed
 * (the latest row of each path counts). */
export function progress(paths: string[], rows: Row[]): { done: number; failed: number } {
  const want = new Set(paths);
  const last = new Map<string, Row>();
  for (const r of rows) if (r && want.has(r.path)) last.set(r.path, r);
  let done = 0;
  let failed = 0;
  for (const r of last.values()) {
    if (r.status === 'done') done++;
    else if (r.status === 'failed' || r.status === 'invalid') failed++;
  }
  return { done, failed };
}

/** A refused submit as the shell sends it (or any other error, whole). */
export function refusal(e: unknown): Refused {
  if (e && typeof e === 'object' && 'message' in e && 'rows' in e) {
    const r = e as Refused;
    return { message: String(r.message), rows: r.rows ?? {} };
  }
  return { message: String(e), rows: {} };
}

/** A restriction date to start from: six months on (Loculus allows up to one year). */
export function defaultUntil(today: Date): string {
  const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 6, today.getUTCDate()));
  return d.toISOString().slice(0, 10);
}
