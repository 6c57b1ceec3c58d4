// The only place that talks to the shell. The webview never sees a token:
// sign-in answers with who is signed in, nothing more.
import { invoke, Channel } from '@tauri-apps/api/core';
import type { Added, Batch, Info, Linkage, OrganismInfo, Portal, Restored, Resumable, Row, Submitted } from './types';

export const api = {
  session: () => invoke<[Info, Portal | null]>('session'),
  signIn: (user: string, password: string, backend?: string, keycloak?: string) =>
    invoke<Info>('sign_in', { user, password, backend, keycloak }),
  signInToken: (token: string, backend?: string) => invoke<Info>('sign_in_token', { token, backend }),
  signOut: () => invoke<Info>('sign_out'),
  signInKey: (key: string, appresult?: string) => invoke<Info>('sign_in_key', { key, appresult }),
  portals: () => invoke<Portal[]>('portals'),
  choosePortal: (index: number) => invoke<Info>('choose_portal', { index }),
  wizardOrganisms: () => invoke<OrganismInfo[]>('wizard_organisms'),
  wizardPickFolder: () => invoke<string | null>('wizard_pick_folder'),
  wizardReview: (organism: string, exclude: string[]) => invoke<Linkage>('wizard_review', { organism, exclude }),
  wizardUpload: () => invoke<string[]>('wizard_upload'),
  wizardResume: (id: string) => invoke<Restored>('wizard_resume', { id }),
  wizardSubmit: (restrictedUntil?: string) => invoke<Submitted>('wizard_submit', { restrictedUntil }),
  subscribe: (onBatch: (b: Batch) => void) => {
    const ch = new Channel<Batch>();
    ch.onmessage = onBatch;
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
};
