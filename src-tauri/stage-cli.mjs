// (Run from ui/, the frontend folder the Tauri CLI runs commands in.)
// Puts the `ferry` command line where the bundles take it from
// (tauri.conf.json: bundle.linux.*.files, bundle.macOS.files):
// target/ferry-cli/ferry, built with the app's profile and target. Run by
// `tauri build` / `tauri bundle` before bundling (beforeBundleCommand), in
// Node so it works on every OS the release workflow builds on.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const debug = process.env.TAURI_ENV_DEBUG === 'true';
const wanted = process.env.TAURI_ENV_TARGET_TRIPLE ?? '';
const exe = process.platform === 'win32' ? 'ferry.exe' : 'ferry';
const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV']).toString())[1];

function build(target) {
  const args = ['build', '--locked', '-p', 'ferry-cli', '--bin', 'ferry'];
  if (!debug) args.push('--release');
  // The host's own triple is built without --target, in the folder
  // `cargo build` (and the app's build) already use.
  const cross = target && target !== host;
  if (cross) args.push('--target', target);
  execFileSync('cargo', args, { cwd: root, stdio: 'inherit' });
  return path.join(root, 'target', cross ? target : '', debug ? 'debug' : 'release', exe);
}

const out = path.join(root, 'target', 'ferry-cli');
mkdirSync(out, { recursive: true });
if (process.env.FERRY_CLI_BIN) {
  // A `ferry` built already with the app (the package test's: building
  // the CLI alone would unify features differently and build again).
  copyFileSync(process.env.FERRY_CLI_BIN, path.join(out, exe));
} else if (wanted === 'universal-apple-darwin') {
  const parts = ['aarch64-apple-darwin', 'x86_64-apple-darwin'].map(build);
  execFileSync('lipo', ['-create', '-output', path.join(out, exe), ...parts], { stdio: 'inherit' });
} else {
  copyFileSync(build(wanted), path.join(out, exe));
}
console.log(`ferry CLI staged in ${out}`);
