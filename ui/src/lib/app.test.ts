// The window's header and stats line (App.svelte) with the shell's api
// replaced: sign-in by password, by pasted token and in a browser, and the
// rate and time left computed from the messages the shell sends.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import { tick } from 'svelte';
import type { WindowMessage, DeviceCode, Info, Portal, SettingsView, Totals } from './types';

const api = vi.hoisted(() => ({
  session: vi.fn(),
  signIn: vi.fn(),
  signInToken: vi.fn(),
  signInDevice: vi.fn(),
  openSignInPage: vi.fn(),
  cancelSignIn: vi.fn(),
  signOut: vi.fn(),
  signInKey: vi.fn(),
  portals: vi.fn(),
  choosePortal: vi.fn(),
  subscribe: vi.fn(),
  unfinishedJobs: vi.fn(),
  pickFiles: vi.fn(),
  pickFolder: vi.fn(),
  start: vi.fn(),
  pauseAll: vi.fn(),
  resumeAll: vi.fn(),
  cancelAll: vi.fn(),
  settings: vi.fn(),
  saveSettings: vi.fn(),
  watchFolders: vi.fn(),
  watchPick: vi.fn(),
  watchRemove: vi.fn(),
  watchPause: vi.fn(),
  watchCheckAgain: vi.fn(),
  watchDropZone: vi.fn(),
  wizardGroups: vi.fn(),
  wizardOrganisms: vi.fn(),
}));
vi.mock('./api', () => ({ api }));

import App from '../App.svelte';

// jsdom has no ResizeObserver, which the list's bind:clientHeight uses.
vi.stubGlobal(
  'ResizeObserver',
  class {
    observe() {}
    unobserve() {}
    disconnect() {}
  },
);

const demo: Portal = { name: 'Demo portal', backend: 'http://127.0.0.1:9', keycloak: 'http://127.0.0.1:9', demo: true, kind: 'loculus' };
const info = (user: string | null): Info => ({ portal: demo, user, group: user ? 1 : null, keychain: null, journal: null, target: null });

/** Lets the mocked calls' promises settle and Svelte redraw. */
async function settle() {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
    await tick();
  }
}

const view = (v: Partial<SettingsView>): SettingsView => ({
  version: '0.1.0',
  path: '/home/lab/.config/ferry/config.toml',
  settings: { portal: null, backend: null, parts_in_flight: null, limit_rate: null, proxy: null, wait_for_network: null },
  error: null,
  limit: null,
  ...v,
});

let onMessage: (b: WindowMessage) => void = () => {};
beforeEach(() => {
  for (const f of Object.values(api)) f.mockReset();
  api.session.mockResolvedValue([info(null), demo]);
  api.portals.mockResolvedValue([demo]);
  api.unfinishedJobs.mockResolvedValue([]);
  api.watchFolders.mockResolvedValue([]);
  api.watchDropZone.mockResolvedValue(undefined);
  api.wizardGroups.mockResolvedValue({ groups: [{ groupId: 1, groupName: 'Demo Lab' }], current: 1 });
  api.wizardOrganisms.mockResolvedValue([]);
  api.settings.mockResolvedValue(view({}));
  api.subscribe.mockImplementation((f: (b: WindowMessage) => void) => {
    onMessage = f;
    return Promise.resolve([]);
  });
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

async function signedOutWindow() {
  const r = render(App);
  await settle();
  return r;
}

describe('sign-in form', () => {
  it('signs in with the user and password typed, and forgets the password', async () => {
    api.signIn.mockResolvedValue(info('alice'));
    api.signOut.mockResolvedValue(info(null));
    const { getByPlaceholderText, getByText, getByTestId, queryByTestId } = await signedOutWindow();
    await fireEvent.input(getByPlaceholderText('User'), { target: { value: 'alice' } });
    await fireEvent.input(getByPlaceholderText('Password'), { target: { value: 's3cret' } });
    await fireEvent.click(getByText('Sign in'));
    await settle();
    expect(api.signIn).toHaveBeenCalledWith('alice', 's3cret', undefined, undefined);
    expect(getByTestId('user').textContent).toBe('alice');
    expect(queryByTestId('sign-in')).toBeNull();
    // Signed out again: the form is back, the password is not in it.
    await fireEvent.click(getByTestId('sign-out'));
    await settle();
    expect((getByPlaceholderText('Password') as HTMLInputElement).value).toBe('');
    expect((getByPlaceholderText('User') as HTMLInputElement).value).toBe('alice');
  });

  it('shows the portal refusing the password and keeps the form', async () => {
    api.signIn.mockRejectedValue('wrong user name or password');
    const { getByPlaceholderText, getByText, getByTestId } = await signedOutWindow();
    await fireEvent.input(getByPlaceholderText('User'), { target: { value: 'alice' } });
    await fireEvent.input(getByPlaceholderText('Password'), { target: { value: 'nope' } });
    await fireEvent.click(getByText('Sign in'));
    await settle();
    expect(getByTestId('message').textContent).toContain('wrong user name or password');
    expect(getByTestId('sign-in')).toBeTruthy();
    expect((getByText('Sign in') as HTMLButtonElement).disabled).toBe(false);
  });

  it('"token" switches to a pasted-token field, which signs in with it', async () => {
    api.signInToken.mockResolvedValue(info('bot'));
    const { getByLabelText, getByPlaceholderText, getByText, getByTestId, queryByPlaceholderText, queryByTestId } =
      await signedOutWindow();
    await fireEvent.click(getByLabelText('token'));
    await settle();
    expect(queryByPlaceholderText('Password')).toBeNull();
    expect(queryByPlaceholderText('User')).toBeNull();
    expect(queryByTestId('sign-in-device')).toBeNull();
    const field = getByPlaceholderText('Paste a token') as HTMLInputElement;
    expect(field.type).toBe('password');
    await fireEvent.input(field, { target: { value: 'long-lived-token' } });
    await fireEvent.click(getByText('Sign in'));
    await settle();
    expect(api.signInToken).toHaveBeenCalledWith('long-lived-token', undefined);
    expect(api.signIn).not.toHaveBeenCalled();
    expect(getByTestId('user').textContent).toBe('bot');
  });

  it('"Sign in with browser" shows the code and link while waiting, and hides them after', async () => {
    const code: DeviceCode = {
      user_code: 'WDJB-MJHT',
      verification_uri: 'http://127.0.0.1:9/device',
      verification_uri_complete: 'http://127.0.0.1:9/device?user_code=WDJB-MJHT',
      expires_in: 600,
    };
    let approve: (i: Info) => void = () => {};
    api.signInDevice.mockImplementation((onCode: (c: DeviceCode) => void) => {
      onCode(code);
      return new Promise<Info>((ok) => (approve = ok));
    });
    const { getByTestId, queryByTestId } = await signedOutWindow();
    await fireEvent.click(getByTestId('sign-in-device'));
    await settle();
    expect(getByTestId('device-code').textContent).toBe('WDJB-MJHT');
    expect(getByTestId('device-link').textContent).toBe('http://127.0.0.1:9/device?user_code=WDJB-MJHT');
    // While it waits, the form cannot start another sign-in.
    expect((getByTestId('sign-in-device') as HTMLButtonElement).disabled).toBe(true);
    approve(info('carol'));
    await settle();
    expect(queryByTestId('device')).toBeNull();
    expect(queryByTestId('device-code')).toBeNull();
    expect(getByTestId('user').textContent).toBe('carol');
  });

  it('hides the code when the browser sign-in is cancelled, and says so', async () => {
    let refuse: (e: string) => void = () => {};
    api.signInDevice.mockImplementation((onCode: (c: DeviceCode) => void) => {
      onCode({ user_code: 'ABCD-EFGH', verification_uri: 'http://127.0.0.1:9/device', expires_in: 600 });
      return new Promise<Info>((_, no) => (refuse = no));
    });
    const { getByTestId, queryByTestId } = await signedOutWindow();
    await fireEvent.click(getByTestId('sign-in-device'));
    await settle();
    expect(getByTestId('device-link').textContent).toBe('http://127.0.0.1:9/device');
    refuse('sign-in cancelled');
    await settle();
    expect(queryByTestId('device')).toBeNull();
    expect(getByTestId('message').textContent).toContain('sign-in cancelled');
    expect(getByTestId('sign-in')).toBeTruthy();
  });
});

describe('stats line', () => {
  const totals = (t: Partial<Totals>): Totals => ({
    files: 3,
    bytes: 10 * 1024 * 1024,
    sent: 0,
    done: 0,
    failed: 0,
    invalid: 0,
    active: 3,
    need_sign_in: 0,
    ...t,
  });
  const message = (t: Partial<Totals>): WindowMessage => ({ update: { rows: [], totals: totals(t), finished: [] }, added: [], session: null });

  it('shows the rate over the last seconds and the time left at it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: 1_000_000 });
    api.session.mockResolvedValue([info('demo'), demo]);
    const { getByTestId } = await signedOutWindow();
    onMessage(message({ sent: 0 }));
    await settle();
    expect(getByTestId('stats').textContent).not.toContain('/s');
    vi.advanceTimersByTime(1000);
    onMessage(message({ sent: 1024 * 1024 }));
    vi.advanceTimersByTime(1000);
    onMessage(message({ sent: 2 * 1024 * 1024, done: 1 }));
    await settle();
    // 2 MiB in 2 s; 8 MiB left.
    const text = (getByTestId('stats').textContent ?? '').replace(/\s+/g, ' ');
    expect(text).toContain('3 files · 2.0 MB of 10 MB');
    expect(text).toContain('1 accepted');
    expect(text).toContain('1.0 MB/s · 8 s left');
  });

  it('shows no rate once nothing is sending', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: 1_000_000 });
    api.session.mockResolvedValue([info('demo'), demo]);
    const { getByTestId } = await signedOutWindow();
    onMessage(message({ sent: 0 }));
    vi.advanceTimersByTime(1000);
    onMessage(message({ sent: 10 * 1024 * 1024, done: 3, active: 0 }));
    vi.advanceTimersByTime(500);
    await settle();
    const text = (getByTestId('stats').textContent ?? '').replace(/\s+/g, ' ');
    expect(text).toContain('3 accepted');
    expect(text).not.toContain('/s');
    expect(text).not.toContain('left');
  });
});

describe('settings and about', () => {
  it('shows the version, and the bandwidth limit in the stats line once saved', async () => {
    const { getByTestId, queryByTestId } = await signedOutWindow();
    expect(queryByTestId('limit')).toBeNull();
    await fireEvent.click(getByTestId('settings-open'));
    await settle();
    expect(getByTestId('about').textContent).toContain('Ferry 0.1.0');
    api.saveSettings.mockResolvedValue(view({ settings: { ...view({}).settings, limit_rate: '20M' }, limit: '20.0 MiB/s' }));
    await fireEvent.input(getByTestId('limit-rate'), { target: { value: '20M' } });
    await fireEvent.submit(getByTestId('settings'));
    await settle();
    expect(api.saveSettings).toHaveBeenCalledWith(expect.objectContaining({ limit_rate: '20M', proxy: null }));
    expect(getByTestId('stats').textContent).toContain('limit 20.0 MiB/s');
  });

  it('keeps how long to wait for the network; empty is the default, 0 means do not wait', async () => {
    api.settings.mockResolvedValue(view({ settings: { ...view({}).settings, wait_for_network: '24h' } }));
    const { getByTestId } = await signedOutWindow();
    await fireEvent.click(getByTestId('settings-open'));
    await settle();
    const input = getByTestId('wait-for-network') as HTMLInputElement;
    expect(input.value).toBe('24h');
    api.saveSettings.mockResolvedValue(view({ settings: { ...view({}).settings, wait_for_network: '0' } }));
    await fireEvent.input(input, { target: { value: ' 0 ' } });
    await fireEvent.submit(getByTestId('settings'));
    await settle();
    expect(api.saveSettings).toHaveBeenLastCalledWith(expect.objectContaining({ wait_for_network: '0' }));
    expect(getByTestId('settings-message').textContent).toContain('network wait from the next start');
    await fireEvent.input(getByTestId('wait-for-network'), { target: { value: '' } });
    await fireEvent.submit(getByTestId('settings'));
    await settle();
    expect(api.saveSettings).toHaveBeenLastCalledWith(expect.objectContaining({ wait_for_network: null }));
  });

  it('shows a malformed file with its path and line and offers no save over it', async () => {
    const error = '/home/lab/.config/ferry/config.toml, line 3: limit_rate: not a rate. Fix the file (Ferry never rewrites one it cannot read) or remove it to use the defaults.';
    api.settings.mockResolvedValue(view({ error }));
    const { getByTestId } = await signedOutWindow();
    expect(getByTestId('settings-error').getAttribute('title')).toBe(error);
    await fireEvent.click(getByTestId('settings-open'));
    await settle();
    expect(getByTestId('settings-error-text').textContent).toContain('config.toml, line 3');
    expect((getByTestId('settings-save') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('plain HTTP allowed', () => {
  it('shows a red banner all the time, and none otherwise', async () => {
    const plain = await signedOutWindow();
    expect(plain.queryByTestId('insecure-http')).toBeNull();
    cleanup();
    api.session.mockResolvedValue([{ ...info(null), insecure_http: true }, demo]);
    const { getByTestId } = await signedOutWindow();
    expect(getByTestId('insecure-http').textContent).toContain('unencrypted');
  });
});

describe('watched folders', () => {
  it('shows the folders at start and each run as the shell reports it', async () => {
    api.watchFolders.mockResolvedValue([{ dir: '/data/runs', paused: false, mode: 'inotify', note: null, runs: [] }]);
    const r = await signedOutWindow();
    expect(r.getAllByTestId('watch-folder').length).toBe(1);
    onMessage({
      update: null,
      added: [],
      session: null,
      watch: [
        {
          dir: '/data/runs',
          paused: false,
          mode: 'inotify',
          note: null,
          runs: [{ run: '/data/runs/r1', name: 'r1', state: 'done', detail: 'ok', files: 1, bytes: 10, parts: 'd' }],
        },
      ],
    });
    await settle();
    expect(r.getByTestId('watch-run').getAttribute('data-state')).toBe('done');
    api.watchPause.mockResolvedValue(undefined);
    await fireEvent.click(r.getByTestId('watch-pause'));
    expect(api.watchPause).toHaveBeenCalledWith('/data/runs', true);
  });

  it("offers the signed-in Loculus user's groups and shows what became of a drop on the panel", async () => {
    api.session.mockResolvedValue([info('demo'), demo]);
    const r = render(App);
    await settle();
    expect(r.getByTestId('watch-group').textContent).toContain('Demo Lab (1)');
    // The shell is told where the panel is and what a dropped folder gets.
    expect(api.watchDropZone).toHaveBeenCalledWith(expect.anything(), { group: 1, submit: null });
    onMessage({ update: null, added: [], session: null, watch_notice: '/data/reads.fastq: is a file, not a folder' });
    await settle();
    expect(r.getByTestId('watch-notice').textContent).toContain('is a file, not a folder');
  });
});
