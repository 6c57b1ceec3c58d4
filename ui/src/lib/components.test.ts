import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, fireEvent } from '@testing-library/svelte';

afterEach(cleanup);
import { createRawSnippet } from 'svelte';
import PartStrip from './PartStrip.svelte';
import FileRow from './FileRow.svelte';
import VirtualList from './VirtualList.svelte';
import type { Row } from './types';

const base: Row = {
  id: 7,
  name: 'reads_R1.fastq.gz',
  path: '/data/reads_R1.fastq.gz',
  size: 20 * 1024 * 1024,
  status: 'sending',
  sent: 10 * 1024 * 1024,
  parts: 'dsw',
  error: null,
  warning: null,
  remote_id: null,
  sha256: null,
};
const handlers = () => ({ onpause: vi.fn(), onresume: vi.fn(), oncancel: vi.fn() });

describe('PartStrip', () => {
  it('draws one segment per part with its state', () => {
    const { container } = render(PartStrip, { props: { parts: 'dsrfw' } });
    const states = Array.from(container.querySelectorAll('.seg')).map((e) => e.getAttribute('data-state'));
    expect(states).toEqual(['done', 'sending', 'retrying', 'failed', 'waiting']);
  });
  it('folds thousands of parts into a bounded strip', () => {
    const { container } = render(PartStrip, { props: { parts: 'd'.repeat(10000) } });
    expect(container.querySelectorAll('.seg').length).toBe(64);
  });
});

describe('FileRow', () => {
  it("shows an accepted file's id with Copy and a box to select it", async () => {
    const h = handlers();
    const oncopy = vi.fn();
    const onselect = vi.fn();
    const id = '0b7d6a2e-7c1f-4c7e-9d1a-1f2e3d4c5b6a';
    const { getByTestId } = render(FileRow, {
      props: { row: { ...base, status: 'done', sent: base.size, remote_id: id, sha256: 'ab' }, ...h, oncopy, onselect },
    });
    expect(getByTestId('row-id').textContent).toBe(id);
    await fireEvent.click(getByTestId('copy-id'));
    expect(oncopy).toHaveBeenCalledWith(7);
    await fireEvent.click(getByTestId('select'));
    expect(onselect).toHaveBeenCalledWith(7, true);
  });
  it('shows no id or Copy before the portal accepted the file', () => {
    const { queryByTestId } = render(FileRow, { props: { row: base, ...handlers(), oncopy: vi.fn(), onselect: vi.fn() } });
    expect(queryByTestId('row-id')).toBeNull();
    expect(queryByTestId('copy-id')).toBeNull();
    expect(queryByTestId('select')).toBeNull();
  });
  it('shows a sending file with its parts and percentage, and pauses it', async () => {
    const h = handlers();
    const { getByText, container } = render(FileRow, { props: { row: base, ...h } });
    expect(getByText('reads_R1.fastq.gz')).toBeTruthy();
    expect(getByText('sending 50%')).toBeTruthy();
    expect(container.querySelectorAll('.seg').length).toBe(3);
    await fireEvent.click(getByText('Pause'));
    expect(h.onpause).toHaveBeenCalledWith(7);
    // Resume continues from the journal's acknowledged parts, not from the start.
    expect(getByText('Pause').getAttribute('title')).toMatch(/last part the storage acknowledged/);
    expect(getByText('Pause').getAttribute('title')).not.toMatch(/from its start/);
  });
  it('resumes a paused file from its acknowledged parts, or cancels it', async () => {
    const h = handlers();
    const { getByTestId } = render(FileRow, { props: { row: { ...base, status: 'paused' }, ...h } });
    const resume = getByTestId('resume');
    expect(resume.getAttribute('title')).toMatch(/only the parts the storage has not acknowledged/);
    expect(resume.getAttribute('title')).not.toMatch(/from its start/);
    await fireEvent.click(resume);
    expect(h.onresume).toHaveBeenCalledWith(7);
    await fireEvent.click(getByTestId('cancel'));
    expect(h.oncancel).toHaveBeenCalledWith(7);
  });
  it('shows a green check when the portal accepted the file', () => {
    const { getByTestId } = render(FileRow, {
      props: { row: { ...base, status: 'done', parts: 'ddd', sent: base.size }, ...handlers() },
    });
    expect(getByTestId('check').textContent).toBe('✓');
    expect(getByTestId('status').textContent).toBe('accepted');
  });
  it('shows the error and a Retry that resends the file', async () => {
    const h = handlers();
    const { getByTestId } = render(FileRow, {
      props: { row: { ...base, status: 'failed', error: 'storage failed (500): boom' }, ...h },
    });
    expect(getByTestId('error').textContent).toContain('boom');
    await fireEvent.click(getByTestId('retry'));
    expect(h.onresume).toHaveBeenCalledWith(7);
  });
  it('names the failed file and what to do, and keeps its strip with the failed part', () => {
    const { getByTestId, container } = render(FileRow, {
      props: {
        row: { ...base, status: 'failed', parts: 'dfw', error: '127.0.0.1:9 rejected the request (403): AccessDenied' },
        ...handlers(),
      },
    });
    const text = getByTestId('error').textContent ?? '';
    expect(text).toMatch(/^reads_R1\.fastq\.gz was not sent\. Press Retry to send it again/);
    expect(text).toContain('127.0.0.1:9 rejected the request (403): AccessDenied');
    const states = Array.from(container.querySelectorAll('.seg')).map((e) => e.getAttribute('data-state'));
    expect(states).toEqual(['done', 'failed', 'waiting']);
    expect(getByTestId('retry').getAttribute('title')).not.toMatch(/from its start/);
  });
  it('shows scan problems with no buttons', () => {
    const { getByTestId, queryByRole } = render(FileRow, {
      props: {
        row: { ...base, status: 'invalid', parts: '', error: 'a b.fq: the portal rejects this file name' },
        ...handlers(),
      },
    });
    expect(getByTestId('status').textContent).toBe('cannot be sent');
    expect(getByTestId('error').textContent).toContain('rejects');
    expect(queryByRole('button')).toBeNull();
  });
});

describe('VirtualList', () => {
  it('renders only the rows in view out of 10,000', () => {
    const items = Array.from({ length: 10000 }, (_, i) => ({ n: i }));
    const row = createRawSnippet((item: () => { n: number }) => ({
      render: () => `<span class="it">${item().n}</span>`,
    }));
    const { container } = render(VirtualList, { props: { items, rowHeight: 50, height: 500, row } });
    const shown = container.querySelectorAll('.it');
    expect(shown.length).toBeGreaterThan(5);
    expect(shown.length).toBeLessThan(40);
    const canvas = container.querySelector('.canvas') as HTMLElement;
    expect(canvas.style.height).toBe('500000px');
  });
});

import ResumableJobs from './Resumable.svelte';
import type { Resumable } from './types';

describe('Resumable jobs', () => {
  const job = (id: string, here: boolean): Resumable => ({
    id,
    created_at: 1_700_000_000,
    kind: 'app',
    state: 'running',
    files: 3,
    files_done: 1,
    bytes: 30 * 1024 * 1024,
    bytes_done: 10 * 1024 * 1024,
    destination: { portal_name: here ? 'Demo portal' : 'Other lab', backend: 'http://x' },
    here,
  });
  it('offers Resume only for jobs of the portal signed in now, and Discard for all', async () => {
    const onresume = vi.fn();
    const ondiscard = vi.fn();
    const { getAllByTestId, getByTestId } = render(ResumableJobs, {
      props: { jobs: [job('a', true), job('b', false)], onresume, ondiscard },
    });
    const resume = getAllByTestId('job-resume') as HTMLButtonElement[];
    expect(resume.map((b) => b.disabled)).toEqual([false, true]);
    expect(getByTestId('job-elsewhere').textContent).toContain('sign in to that portal');
    expect(getAllByTestId('job')[0].textContent).toContain('3 files (30 MB), 1 accepted');
    await fireEvent.click(resume[0]);
    expect(onresume).toHaveBeenCalledWith('a');
    await fireEvent.click(getAllByTestId('job-discard')[1]);
    expect(ondiscard).toHaveBeenCalledWith('b');
  });
  it('shows nothing without jobs', () => {
    const { queryByTestId } = render(ResumableJobs, {
      props: { jobs: [], onresume: vi.fn(), ondiscard: vi.fn() },
    });
    expect(queryByTestId('resumable')).toBeNull();
  });
});

describe('FileRow pairs', () => {
  it('names the mate of a paired-end file', () => {
    const { getByTestId } = render(FileRow, {
      props: { row: { ...base, status: 'ready', mate: 'reads_R2.fastq.gz' }, ...handlers() },
    });
    expect(getByTestId('mate').textContent).toBe('pair: reads_R2.fastq.gz');
  });
  it('shows no pair for a single file', () => {
    const { queryByTestId } = render(FileRow, { props: { row: { ...base, status: 'ready' }, ...handlers() } });
    expect(queryByTestId('mate')).toBeNull();
  });
});
