import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, fireEvent } from '@testing-library/svelte';
import WatchPanel from './WatchPanel.svelte';
import type { WatchedFolder } from './types';

afterEach(cleanup);

const folder: WatchedFolder = {
  dir: '/data/MiSeqOutput',
  paused: false,
  mode: 'inotify',
  note: null,
  runs: [
    { run: '/data/MiSeqOutput/r1', name: 'r1', state: 'waiting', detail: 'waiting for the run to finish (a completion marker: CopyComplete.txt)', files: 0, bytes: 0, parts: '' },
    { run: '/data/MiSeqOutput/r2', name: 'r2', state: 'sending', detail: 'sending', files: 2, bytes: 2048, parts: 'dsw' },
    { run: '/data/MiSeqOutput/r3', name: 'r3', state: 'done', detail: '2 files accepted by the portal', files: 2, bytes: 4096, parts: 'dd' },
    { run: '/data/MiSeqOutput/r4', name: 'r4', state: 'attention', detail: '1 problem in its linkage report', files: 0, bytes: 0, parts: '' },
  ],
};

const handlers = () => ({ onadd: vi.fn(), onremove: vi.fn(), onpause: vi.fn(), oncheck: vi.fn() });

describe('WatchPanel', () => {
  it('shows one line per run with its state, strip, check mark and why', () => {
    const { getAllByTestId } = render(WatchPanel, { props: { folders: [folder], ...handlers() } });
    const runs = getAllByTestId('watch-run');
    expect(runs.map((r) => r.getAttribute('data-state'))).toEqual(['waiting', 'sending', 'done', 'attention']);
    expect(runs[0].textContent).toContain('waiting for the run to finish');
    expect(runs[1].querySelectorAll('.seg').length).toBe(3);
    expect(runs[2].querySelector('.icon')?.textContent).toBe('✓');
    expect(runs[3].textContent).toContain('needs attention');
    expect(runs[3].textContent).toContain('linkage report');
  });

  it('adds, pauses, checks again and removes a folder', async () => {
    const h = handlers();
    const { getByTestId } = render(WatchPanel, { props: { folders: [folder], ...h } });
    await fireEvent.click(getByTestId('watch-add'));
    expect(h.onadd).toHaveBeenCalledWith({ group: null, submit: null });
    await fireEvent.click(getByTestId('watch-pause'));
    expect(h.onpause).toHaveBeenCalledWith('/data/MiSeqOutput', true);
    await fireEvent.click(getByTestId('watch-check'));
    expect(h.oncheck).toHaveBeenCalledWith('/data/MiSeqOutput');
    await fireEvent.click(getByTestId('watch-remove'));
    expect(h.onremove).toHaveBeenCalledWith('/data/MiSeqOutput');
  });

  it('offers Resume for a paused folder and says what the panel is for when empty', async () => {
    const h = handlers();
    const { getByTestId, container } = render(WatchPanel, {
      props: { folders: [{ ...folder, paused: true, runs: [] }], ...h },
    });
    expect(getByTestId('watch-pause').textContent).toBe('Resume');
    await fireEvent.click(getByTestId('watch-pause'));
    expect(h.onpause).toHaveBeenCalledWith('/data/MiSeqOutput', false);
    cleanup();
    const empty = render(WatchPanel, { props: { folders: [], ...handlers() } });
    expect(empty.container.textContent).toContain('exactly once');
    expect(container).toBeTruthy();
  });

  const groups = {
    groups: [
      { groupId: 1, groupName: 'Demo lab' },
      { groupId: 7, groupName: 'Sequencing core' },
    ],
    current: 1,
  };
  const organisms = [
    { key: 'ebola-sudan', displayName: 'Ebola Sudan', consensusSequences: true, filesEnabled: true, categories: ['rawReads'] },
  ];

  it('adds a folder with the group and organism chosen, and shows each folder where its runs go', async () => {
    const h = { ...handlers(), onzone: vi.fn() };
    const kept: WatchedFolder = { ...folder, group: 7, submit: 'ebola-sudan', runs: [] };
    const { getByTestId } = render(WatchPanel, { props: { folders: [kept], groups, organisms, ...h } });
    expect(getByTestId('watch-dest').textContent).toContain('Sequencing core (7)');
    expect(getByTestId('watch-dest').textContent).toContain('submitted as a batch: ebola-sudan');
    await fireEvent.click(getByTestId('watch-add'));
    expect(h.onadd).toHaveBeenLastCalledWith({ group: 1, submit: null });
    const group = getByTestId('watch-group') as HTMLSelectElement;
    group.selectedIndex = Array.from(group.options).findIndex((o) => o.textContent?.includes('Sequencing core'));
    await fireEvent.change(group);
    const submit = getByTestId('watch-submit') as HTMLSelectElement;
    submit.selectedIndex = Array.from(submit.options).findIndex((o) => o.textContent?.includes('Ebola Sudan'));
    await fireEvent.change(submit);
    await fireEvent.click(getByTestId('watch-add'));
    expect(h.onadd).toHaveBeenLastCalledWith({ group: 7, submit: 'ebola-sudan' });
    // The shell learns where the panel is and what a folder dropped on it gets.
    expect(h.onzone).toHaveBeenLastCalledWith(expect.objectContaining({ width: expect.any(Number) }), {
      group: 7,
      submit: 'ebola-sudan',
    });
  });

  it('shows what became of a drop on the panel', () => {
    const { getByTestId } = render(WatchPanel, {
      props: { folders: [], notice: '/data/run.fastq: is a file, not a folder', ...handlers() },
    });
    expect(getByTestId('watch-notice').textContent).toContain('is a file, not a folder');
  });
});
