import { describe, expect, it } from 'vitest';
import { bytes, duration, segments } from './format';

describe('format', () => {
  it('sizes', () => {
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1536)).toBe('1.5 KB');
    expect(bytes(20 * 1024 * 1024)).toBe('20 MB');
    expect(bytes(3 * 1024 ** 4)).toBe('3.0 TB');
  });
  it('durations', () => {
    expect(duration(null)).toBe('');
    expect(duration(Infinity)).toBe('');
    expect(duration(42)).toBe('42 s');
    expect(duration(185)).toBe('3 min 5 s');
    expect(duration(7800)).toBe('2 h 10 min');
  });
  it('short strips stay one segment per part', () => {
    expect(segments('wsd')).toEqual(['w', 's', 'd']);
  });
  it('long strips fold into segments showing the most telling state', () => {
    const parts = 'd'.repeat(9000) + 'f' + 'w'.repeat(999);
    const s = segments(parts, 10);
    expect(s).toHaveLength(10);
    expect(s.slice(0, 9)).toEqual(Array(9).fill('d'));
    expect(s[9]).toBe('f');
  });
});
