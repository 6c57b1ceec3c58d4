// The only place that talks to the shell. The webview never sees a token:
// sign-in answers with who is signed in, nothing more.
import { invoke, Channel } from '@tauri-apps/api/core';
import type { Added, WindowMessage, DeviceCode, Groups, HistoryBatch, Info, Linkage, OrganismInfo, Portal, Restored, Resumable, Row, Saved, Settings, SettingsView, Submitted, WatchDestination, WatchedFolder, Zone } from './types';

export const api = {
  session: () => invoke<[Info, Portal | null]>('session'),
  settings: () => invoke<SettingsView>('settings'),
  saveSettings: (settings: Settings) => invoke<SettingsView>('save_settings', { new: settings }),
  signIn: (user: string, password: string, backend?: string, keycloak?: string) =>
    invoke<Info>('sign_in', { user, password, backend, keycloak }),
  signInToken: (token: string, backend?: string) => invoke<Info>('sign_in_token', { token, backend }),
  /** Device-code sign-in: `onCode` gets the code to approve in a browser. */
  signInDevice: (onCode: (c: DeviceCode) => void, backend?: string, keycloak?: string) => {
    const ch = new Channel<DeviceCode>();
    ch.onmessage = onCode;
    return invoke<Info>('sign_in_device', { backend, keycloak, onCode: ch });
  },
  openSignInPage: () => invoke<void>('open_sign_in_page'),
  cancelSignIn: () => invoke<void>('cancel_sign_in'),
  signOut: () => invoke<Info>('sign_out'),
  signInKey: (key: string, appresult?: string) => invoke<Info>('sign_in_key', { key, appresult }),
  portals: () => invoke<Portal[]>('portals'),
  choosePortal: (index: number) => invoke<Info>('choose_portal', { index }),
  wizardOrganisms: () => invoke<OrganismInfo[]>('wizard_organisms'),
  wizardGroups: () => invoke<Groups>('wizard_groups'),
  wizardOpen: (open: boolean) => invoke<void>('wizard_open', { open }),
  wizardPickFolder: () => invoke<string | null>('wizard_pick_folder'),
  wizardReview: (organism: string, exclude: string[]) => invoke<Linkage>('wizard_review', { organism, exclude }),
  wizardUpload: (group?: number) => invoke<string[]>('wizard_upload', { group }),
  wizardResume: (id: string) => invoke<Restored>('wizard_resume', { id }),
  /** Rejects with a `Refused` (the message, and the rows it names). */
  wizardSubmit: (restrictedUntil?: string) => invoke<Submitted>('wizard_submit', { restrictedUntil }),
  subscribe: (onMessage: (b: WindowMessage) => void) => {
    const ch = new Channel<WindowMessage>();
    ch.onmessage = onMessage;
    return invoke<Row[]>('subscribe', { onUpdate: ch });
  },
  pickFiles: () => invoke<Added>('pick_files'),
  pickFolder: () => invoke<Added>('pick_folder'),
  start: () => invoke<number>('start'),
  pause: (id: number) => invoke<void>('pause', { id }),
  resume: (id: number) => invoke<void>('resume', { id }),
  cancel: (id: number) => invoke<void>('cancel', { id }),
  pauseAll: () => invoke<void>('pause_all'),
  resumeAll: () => invoke<number>('resume_all'),
  cancelAll: () => invoke<void>('cancel_all'),
  unfinishedJobs: () => invoke<Resumable[]>('unfinished_jobs'),
  resumeJob: (id: string) => invoke<number>('resume_job', { id }),
  discardJob: (id: string) => invoke<void>('discard_job', { id }),
  watchFolders: () => invoke<WatchedFolder[]>('watch_folders'),
  watchPick: (to: WatchDestination) => invoke<void>('watch_pick', { group: to.group, submit: to.submit }),
  /** Where the panel is (null: not shown), so a folder dropped on it is watched with `to`. */
  watchDropZone: (zone: Zone | null, to: WatchDestination) =>
    invoke<void>('watch_drop_zone', { zone, group: to.group, submit: to.submit }),
  watchRemove: (dir: string) => invoke<void>('watch_remove', { dir }),
  watchPause: (dir: string, paused: boolean) => invoke<void>('watch_pause', { dir, paused }),
  watchCheckAgain: (dir: string) => invoke<void>('watch_check_again', { dir }),
  history: (query?: string) => invoke<HistoryBatch[]>('history', { query }),
  /** A history batch (`job`) or the window's accepted rows; null when the dialog was cancelled. */
  saveReceipt: (job?: string, rows?: number[]) => invoke<Saved | null>('save_receipt', { job, rows }),
  /** Copies a TSV of the rows (all accepted when empty), or one row's id; returns the text. */
  copyIds: (rows: number[], onlyId = false) => invoke<string>('copy_ids', { rows, onlyId }),
  /** Writes a metadata template for a history batch and makes its folder the wizard's; returns the folder. */
  submitThese: (job: string) => invoke<string>('submit_these', { job }),
};
