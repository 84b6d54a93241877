// The bundle bin/cowscope runs (scripts/bundle-cli.js, run after tsc by npm test, build and prepare): the
// modules `inspect PID` loads, in one file, with V8's code cache for it. It holds the quick path's modules
// and no others, gives what dist/cli/main.js gives, leaves the other commands to load theirs from dist,
// and is used only while no module it holds is newer than it or of another size.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, Family, ROOT, startFamily, stopAll } from './helpers/family';
import { tempDir } from './helpers/ruby';

const BIN = path.join(ROOT, 'bin', 'cowscope');
const BUNDLE = path.join(ROOT, 'dist', 'cli', 'bundle.js');
const tmp = tempDir('bundle');
let family: Family | undefined;
test.after(async () => {
  await family?.stop();
  await stopAll();
  tmp.remove();
});

/** bin/cowscope as a user runs it: node from PATH, no NODE_EXTRA_CA_CERTS. */
function cowscope(bin: string, args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` };
  delete env.NODE_EXTRA_CA_CERTS;
  return spawnSync(bin, args, { encoding: 'utf8', env, timeout: 60_000 });
}

const manifestOf = (source: string): { id: string; modules: [string, number][] } => JSON.parse(source.slice(2, source.indexOf('*/')));
const withoutTime = (json: string) => ({ ...JSON.parse(json), time: undefined });

test('the bundle holds the modules of the quick inspect path and no others, and V8 takes its code cache', () => {
  const source = fs.readFileSync(BUNDLE, 'utf8');
  const { id, modules } = manifestOf(source);
  const held = modules.map(([rel]) => rel);
  for (const rel of ['cli/main.js', 'analyzers/classify.js', 'native/capture.js', 'native/probe.js', 'cli/commands/inspect.js', 'gather/inspect.js', 'analyzers/sharing.js'])
    assert.ok(held.includes(rel), `${rel} in ${held.join(' ')}`);
  for (const rel of held) assert.ok(!/^(runtimes|blame\/(engine|catalog)|cli\/commands\/(run|compare|budget)|cli\/render\/(html|inspect-text))/.test(rel), `${rel} is not on the quick path`);
  // the cache starts with the id of the bundle it was made for
  const cache = fs.readFileSync(path.join(ROOT, 'dist', 'cli', 'bundle.cache'));
  assert.is(cache.toString('latin1', 0, id.length), id);
  const script = new vm.Script(source, { filename: BUNDLE, cachedData: cache.subarray(id.length) });
  assert.is(script.cachedDataRejected, false);
});

test('bin/cowscope on the bundle: the inspect dist/cli/main.js gives; other commands load theirs from dist', async () => {
  family = await startFamily(['--pages', '300', '--child', '0-99/3:0', '--child', '5:0']);
  const pid = String(family.info.pid);
  const bundled = cowscope(BIN, ['inspect', pid, '--json']);
  assert.is(bundled.status, 0, bundled.stderr);
  const plain = spawnSync(process.execPath, [CLI, 'inspect', pid, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(plain.status, 0, plain.stderr);
  assert.equal(withoutTime(bundled.stdout), withoutTime(plain.stdout));
  // the text form (its renderer is not in the bundle), an error (exit 2, one line) and yargs' help
  const text = cowscope(BIN, ['inspect', pid]);
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`\\b${pid}\\b`));
  const gone = cowscope(BIN, ['inspect', '999999999', '--json']);
  assert.is(gone.status, 2);
  assert.is(gone.stderr.trim().split('\n').length, 1, gone.stderr);
  const help = cowscope(BIN, ['compare', '--help']);
  assert.is(help.status, 0, help.stderr);
  assert.match(help.stdout, /--strategies/);
});

test('a bundle older than a module it holds, or of another size, is not used: dist/cli/main.js loads them', () => {
  // a copy of the package whose bundle says so in its output
  const pkg = path.join(tmp.dir, 'pkg');
  fs.mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  fs.copyFileSync(BIN, path.join(pkg, 'bin', 'cowscope'));
  fs.chmodSync(path.join(pkg, 'bin', 'cowscope'), 0o755);
  fs.cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true, filter: (src) => !src.includes(`${path.sep}test${path.sep}`) });
  fs.symlinkSync(path.join(ROOT, 'build'), path.join(pkg, 'build'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  const bundle = path.join(pkg, 'dist', 'cli', 'bundle.js');
  const source = fs.readFileSync(bundle, 'utf8');
  assert.ok(source.includes("schema: 'cowscope.inspect/1'"));
  fs.writeFileSync(bundle, source.replace("schema: 'cowscope.inspect/1'", "schema: 'cowscope.inspect/1 (bundle)'"));
  const schema = () => {
    const r = cowscope(path.join(pkg, 'bin', 'cowscope'), ['inspect', String(process.pid), '--json']);
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).schema;
  };
  assert.is(schema(), 'cowscope.inspect/1 (bundle)');
  // a module rewritten since (tsc ran, the bundle did not)
  const later = new Date(Date.now() + 60_000);
  fs.utimesSync(path.join(pkg, 'dist', 'cli', 'errors.js'), later, later);
  assert.is(schema(), 'cowscope.inspect/1');
  // all as old as the bundle again (npm pack's one date), but one module of another size
  const old = new Date('1985-10-26T08:15:00Z');
  for (const [rel] of manifestOf(source).modules) fs.utimesSync(path.join(pkg, 'dist', rel), old, old);
  fs.utimesSync(bundle, old, old);
  assert.is(schema(), 'cowscope.inspect/1 (bundle)');
  fs.appendFileSync(path.join(pkg, 'dist', 'cli', 'errors.js'), '\n');
  fs.utimesSync(path.join(pkg, 'dist', 'cli', 'errors.js'), old, old);
  assert.is(schema(), 'cowscope.inspect/1');
});

test.run();
