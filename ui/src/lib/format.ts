const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 -> "1.5 KB" (powers of 1024, like file managers). */
export function bytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`;
}

/** Seconds -> "42 s", "3 min 5 s", "2 h 10 min"; "" when unknown. */
export function duration(s: number | null): string {
  if (s === null || !isFinite(s) || s < 0) return '';
  const t = Math.round(s);
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} min ${t % 60} s`;
  return `${Math.floor(t / 3600)} h ${Math.floor((t % 3600) / 60)} min`;
}

/** A part strip of any length as at most `max` segments; a segment shows
 * the most telling state of the parts it stands for. */
export function segments(parts: string, max = 64): string[] {
  if (parts.length <= max) return parts.split('');
  const rank: Record<string, number> = { f: 5, r: 4, s: 3, w: 2, d: 1 };
  const out: string[] = [];
  for (let i = 0; i < max; i++) {
    const a = Math.floor((i * parts.length) / max);
    const b = Math.floor(((i + 1) * parts.length) / max);
    let best = 'd';
    for (let j = a; j < b; j++) if ((rank[parts[j]] ?? 0) > rank[best]) best = parts[j];
    out.push(best);
  }
  return out;
}

/** "Waiting for the network since 12:03; retrying every 15 s" (local time). */
export function networkLine(w: { since: number; retry_every_s: number }): string {
  const d = new Date(w.since * 1000);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return `Waiting for the network since ${hm}; retrying every ${w.retry_every_s} s`;
}
