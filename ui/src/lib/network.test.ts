import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';
import NetworkBanner from './NetworkBanner.svelte';
import { networkLine } from './format';
import { QueueModel } from './queue';
import type { WindowMessage, Totals } from './types';

afterEach(cleanup);

// 12:03 local time today, whatever the test machine's zone.
const since = new Date(2026, 11, 2, 12, 3, 40).getTime() / 1000;

describe('network banner', () => {
  it('says since when and how often it tries', () => {
    expect(networkLine({ since, retry_every_s: 15 })).toBe('Waiting for the network since 12:03; retrying every 15 s');
  });

  it('is shown while the job waits, with the files paused, and gone when the network is back', async () => {
    const { getByTestId, queryByTestId, rerender } = render(NetworkBanner, {
      props: { wait: { since, retry_every_s: 15 }, paused: 3 },
    });
    const b = getByTestId('network-banner');
    expect(b.textContent).toContain('Waiting for the network since 12:03; retrying every 15 s');
    expect(b.textContent).toContain('3 files paused');
    expect(b.getAttribute('role')).toBe('status');
    await rerender({ wait: null, paused: 3 });
    expect(queryByTestId('network-banner')).toBeNull();
  });

  it('reaches the model from the shell update', () => {
    const m = new QueueModel();
    const totals: Totals = {
      files: 1, bytes: 10, sent: 5, done: 0, failed: 0, invalid: 0, active: 1, need_sign_in: 0,
      network: { since, retry_every_s: 15 },
    };
    const msg: WindowMessage = { update: { rows: [], totals, finished: [] }, added: [], session: null };
    m.apply(msg, 0);
    expect(m.totals.network).toEqual({ since, retry_every_s: 15 });
    m.apply({ ...msg, update: { rows: [], totals: { ...totals, network: null }, finished: [], network_back: true } }, 1);
    expect(m.totals.network).toBeNull();
  });
});
