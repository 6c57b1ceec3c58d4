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
  /** Set while no connection can be made (ferry_engine::queue::NetworkWait). */
  network?: NetworkWait | null;
}

/** Waiting for the network since `since` (Unix seconds). */
export interface NetworkWait {
  since: number;
  retry_every_s: number;
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
  destination: {
    portal_name?: string | null;
    backend?: string | null;
    group?: number | null;
    user?: string | null;
    /** What follows the upload: a submission wizard's choices. */
    then?: { wizard?: { folder: string; organism: { key: string; displayName: string }; exclude: string[] } };
  };
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

/** What the user must do in a browser to approve a device sign-in. */
export interface DeviceCode {
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string | null;
  expires_in: number;
}

export interface Info {
  portal: Portal | null;
  user: string | null;
  group: number | null;
  keychain: string | null;
  journal: string | null;
  /** Where files go in the account (BaseSpace: the AppResult). */
  target: string | null;
  /** Plain http to other hosts was allowed (FERRY_ALLOW_HTTP). */
  insecure_http?: boolean;
}

export interface WindowMessage {
  /** `network_back`: the network came back, sending goes on. */
  update: { rows: Row[]; totals: Totals; finished: Finished[]; network_back?: boolean } | null;
  added: Added[];
  session: Info | null;
  /** A folder dropped on the window while the wizard is open. */
  wizard_folder?: string | null;
  /** The watched folders and their runs, when they changed. */
  watch?: WatchedFolder[] | null;
  /** What became of folders dropped on the Watched folders panel. */
  watch_notice?: string | null;
}

/** One run of a watched folder (src-tauri/watch.rs `RunView`). */
export interface WatchedRun {
  run: string;
  name: string;
  state: 'waiting' | 'ready' | 'sending' | 'done' | 'attention';
  detail: string;
  files: number;
  bytes: number;
  /** One letter per part, as a file's strip. */
  parts: string;
}

export interface WatchedFolder {
  dir: string;
  paused: boolean;
  /** Loculus: the group its runs go to (null: the signed-in one). */
  group?: number | null;
  /** Loculus: each run is submitted as a batch for this organism. */
  submit?: string | null;
  mode: string | null;
  note: string | null;
  runs: WatchedRun[];
}

/** ferry_engine::loculus::OrganismInfo */
export interface OrganismInfo {
  key: string;
  displayName: string;
  consensusSequences: boolean;
  filesEnabled: boolean;
  categories: string[];
}

export interface LinkedFile {
  name: string;
  relative: string | null;
  size: number;
  fileId: string | null;
}

export interface RowLink {
  id: string;
  record: number;
  sequence: boolean | null;
  files: Record<string, LinkedFile[]>;
}

export interface Problem {
  kind: string;
  submissionId: string | null;
  category: string | null;
  path: string | null;
  message: string;
}

/** ferry_engine::loculus::Linkage: a batch folder linked to its rows. */
export interface Linkage {
  folder: string;
  organism: string;
  metadata: string | null;
  sequences: string | null;
  rows: RowLink[];
  problems: Problem[];
}

export interface Submitted {
  accessions: { submissionId: string; accession: string; version: number }[];
  receipt_csv: string | null;
  receipt_json: string | null;
  /** The receipt could not be written; the accessions still stand. */
  receipt_error: string | null;
  /** Files uploaded again because their ids had expired on the portal. */
  renewed?: string[];
}

/** A refused submit: the message, and the server's message per row it names. */
export interface Refused {
  message: string;
  rows: Record<string, string>;
}

/** The user's groups (GET /user/groups) and the one files go to now. */
export interface Groups {
  groups: { groupId: number; groupName: string }[];
  current: number;
}

/** A wizard taken up again from the journal. */
export interface Restored {
  folder: string;
  organism: string;
  exclude: string[];
  paths: string[];
}

/** The settings file (shared with the `ferry` CLI); a missing key is the default. */
export interface Settings {
  portal: string | null;
  backend: string | null;
  parts_in_flight: number | null;
  limit_rate: string | null;
  proxy: string | null;
  /** How long files wait for the network: "24h", "90m"; "0" fails once retries are spent. */
  wait_for_network: string | null;
}

export interface SettingsView {
  version: string;
  path: string;
  settings: Settings;
  /** Why the file could not be read (its path and line): then never saved over. */
  error: string | null;
  /** The bandwidth limit in force, e.g. "20.0 MiB/s". */
  limit: string | null;
}

/** ferry_engine::history::HistoryFile */
export interface HistoryFile {
  name: string;
  path: string;
  id: string | null;
  size: number;
  sha256: string | null;
  state: string;
  uploadedAt: number | null;
}

/** ferry_engine::history::WindowMessage: one past batch from the journal. */
export interface HistoryBatch {
  job: string;
  kind: string;
  portal: 'loculus' | 'onecodex' | 'basespace' | string;
  destination: string;
  createdAt: number;
  state: string;
  files: HistoryFile[];
  attached: boolean;
  accessions: { submissionId: string; accession: string; version: number }[];
  /** Loculus, not attached: whole days before the ids expire (default retention). */
  daysLeft: number | null;
}

/** Where a receipt was saved. */
export interface Saved {
  csv: string;
  json: string;
  files: number;
}

/** Where a watched folder's runs go (Loculus): a group, and an organism
 * to submit each run to as a batch (null: its reads are uploaded). */
export interface WatchDestination {
  group: number | null;
  submit: string | null;
}

/** The panel's place in the window, in CSS pixels. */
export interface Zone {
  x: number;
  y: number;
  width: number;
  height: number;
}
