// Mirrors ferry_engine::queue and src-tauri (serde shapes).
export type Status =
  | 'ready'
  | 'invalid'
  | 'waiting'
  | 'sending'
  | 'paused'
  | 'done'
  | 'failed'
  | 'cancelled';

export interface Row {
  id: number;
  name: string;
  path: string;
  size: number;
  status: Status;
  sent: number;
  /** One character per part: w waiting, s sending, d done, r retrying, f failed. */
  parts: string;
  error: string | null;
  warning: string | null;
  remote_id: string | null;
  sha256: string | null;
  /** The other file of its paired-end sample (One Codex). */
  mate?: string | null;
}

export interface Totals {
  files: number;
  bytes: number;
  sent: number;
  done: number;
  failed: number;
  invalid: number;
  active: number;
  /** Files paused because the portal refused the sign-in. */
  need_sign_in: number;
}

/** An unfinished job of an earlier session (ferry_engine::queue::Resumable). */
export interface Resumable {
  id: string;
  created_at: number;
  kind: string;
  state: string;
  files: number;
  files_done: number;
  bytes: number;
  bytes_done: number;
  destination: { portal_name?: string | null; backend?: string | null; group?: number | null; user?: string | null };
  /** Whether it can go on with the portal signed in now. */
  here: boolean;
}

export interface Finished {
  done: number;
  failed: number;
  stopped: number;
}

export interface Added {
  files: number;
  problems: number;
  bytes: number;
}

export type PortalKind = 'loculus' | 'onecodex' | 'basespace';

export interface Portal {
  name: string;
  backend: string;
  keycloak: string;
  demo: boolean;
  kind: PortalKind;
}

export interface Info {
  portal: Portal | null;
  user: string | null;
  group: number | null;
  keychain: string | null;
  journal: string | null;
  /** Where files go in the account (BaseSpace: the AppResult). */
  target: string | null;
}

export interface Batch {
  update: { rows: Row[]; totals: Totals; finished: Finished[] } | null;
  added: Added[];
  session: Info | null;
}
