// A real install: what `npm pack` ships (no tests, benchmarks, CI or fixtures; the compiled JavaScript,
// the C++ probe's sources, the agent and the example), and a global install of the packed tarball into
// a temporary prefix, whose `cowscope` command then works from another folder.
//
// The install fetches the three dependencies with --prefer-offline: from npm's cache when `npm ci` put
// them there, else from the npm registry (nothing else: node-gyp builds against the headers of the
// running Node, already fetched for the checkout's own build).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from './helpers/family';
import { leftoverRunDirs, processesMentioning, rubyFixtureProcesses, tempDir } from './helpers/ruby';

const tmp = tempDir('install');
test.after(() => tmp.remove());

/** Paths that must never be in the package: tests, benchmarks, CI, fixtures, their compiled copies. */
const NOT_SHIPPED = /^(dist\/)?(test|bench|fixtures|scripts|\.ci)\/|^\.|(^|\/)\.ci\//;
/** What an install needs: the command, the probe's sources and build file, the agent, the example. */
const SHIPPED = [
  'package.json',
  'README.md',
  'bin/cowscope',
  'dist/cli/main.js',
  // the modules of `inspect PID` in one file, and V8's code for it (scripts/bundle-cli.js)
  'dist/cli/bundle.js',
  'dist/cli/bundle.cache',
  'dist/native/probe.js',
  'dist/runtimes/ruby/driver.js',
  'binding.gyp',
  'native/common.h',
  'runtimes/ruby/agent/cowscope.rb',
  'runtimes/ruby/agent/cache_probe.rb',
  'runtimes/python/agent/cowscope.py',
  'runtimes/python/agent/sitecustomize.py',
  'runtimes/python/agent/layouts.json',
  'examples/app.rb',
  // every source the addon builds from, as binding.gyp lists them
  ...(JSON.parse(fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8')).targets[0].sources as string[]),
];

function npm(args: string[], cwd: string, timeoutMs = 300_000) {
  return spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
}

test('npm pack ships the command, the probe sources and the example, and no tests, benchmarks, CI or fixtures', () => {
  // --ignore-scripts: the listing only (npm test compiled dist/ already); the real pack below runs prepare.
  const r = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT);
  assert.is(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as [{ files: { path: string }[]; entryCount: number }];
  const files = pack.files.map((f) => f.path);
  assert.equal(files.filter((f) => NOT_SHIPPED.test(f)), [], 'nothing of tests, benchmarks, CI or fixtures');
  for (const f of SHIPPED) assert.ok(files.includes(f), `${f} is shipped`);
  assert.equal(files.filter((f) => f.startsWith('dist/') && !f.endsWith('.js') && f !== 'dist/cli/bundle.cache'), [], 'only JavaScript from dist/ (no maps of sources that are not shipped), and the bundle\'s code cache');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.ok(pkg.dependencies['node-addon-api'], 'the probe builds at install: node-addon-api is a dependency, not a devDependency');
  assert.is(pkg.scripts.install, 'node-gyp rebuild');
});

test('a global install of the packed tarball into a temporary prefix: cowscope doctor and cowscope run --example from another folder', () => {
  const packDir = path.join(tmp.dir, 'pack');
  const prefix = path.join(tmp.dir, 'prefix');
  const elsewhere = path.join(tmp.dir, 'elsewhere');
  for (const d of [packDir, elsewhere]) fs.mkdirSync(d);
  // A real pack: prepare compiles the TypeScript into the tarball.
  const pack = npm(['pack', '--json', '--pack-destination', packDir], ROOT);
  assert.is(pack.status, 0, pack.stderr);
  const tarball = path.join(packDir, (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [{ filename: string }])[0].filename);
  assert.ok(fs.existsSync(tarball), tarball);

  const install = npm(['install', '-g', '--prefer-offline', '--prefix', prefix, tarball], elsewhere);
  assert.is(install.status, 0, `${install.stdout}\n${install.stderr}`);
  const pkgDir = path.join(prefix, 'lib', 'node_modules', 'cowscope');
  assert.ok(!fs.lstatSync(pkgDir).isSymbolicLink(), 'a copy, not a link to the checkout');
  assert.ok(fs.existsSync(path.join(pkgDir, 'build', 'Release', 'cowscope_probe.node')), 'the probe was built at install');
  assert.not.ok(fs.existsSync(path.join(pkgDir, 'test')) || fs.existsSync(path.join(pkgDir, 'dist', 'test')), 'no tests installed');

  const cowscope = path.join(prefix, 'bin', 'cowscope');
  // bin/cowscope runs the `node` on PATH: this Node; the checkout is nowhere on the way. It starts node
  // without NODE_EXTRA_CA_CERTS and hands the value on: the programs cowscope runs see it as set here.
  const caFile = path.join(tmp.dir, 'no-such-ca.pem');
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: caFile, PATH: `${path.dirname(process.execPath)}:${path.join(prefix, 'bin')}:${process.env.PATH}` };
  const run = (args: string[]) => spawnSync(cowscope, args, { cwd: elsewhere, encoding: 'utf8', timeout: 180_000, env });

  const doctor = run(['doctor', '--json']);
  assert.is(doctor.status, 0, doctor.stderr);
  assert.is(JSON.parse(doctor.stdout).schema, 'cowscope.doctor/1');

  const agent = run(['agent-path']);
  assert.is(agent.stdout.trim(), path.join(fs.realpathSync(pkgDir), 'runtimes', 'ruby', 'agent', 'cowscope.rb'), 'the installed agent, not the checkout\'s');

  const example = run(['run', '--example', '--json']);
  assert.is(example.status, 0, example.stderr);
  // node itself never read the (missing) CA file: it warns on stderr when it tries
  assert.not.match(example.stderr, /NODE_EXTRA_CA_CERTS|no-such-ca/, 'node started without the variable');
  const seen = path.join(tmp.dir, 'seen-env.txt');
  const script = path.join(tmp.dir, 'env.rb');
  fs.writeFileSync(script, `File.write(${JSON.stringify(seen)}, ENV.fetch('NODE_EXTRA_CA_CERTS', '(unset)') + ' ' + ENV.fetch('COWSCOPE_NODE_EXTRA_CA_CERTS', '(unset)'))\n`);
  const envRun = run(['run', '--children', '1', script]);
  assert.is(envRun.status, 0, envRun.stderr);
  assert.is(fs.readFileSync(seen, 'utf8'), `${caFile} (unset)`, 'the program got the variable back, and nothing of ours');
  const report = JSON.parse(example.stdout);
  assert.is(report.schema, 'cowscope.run/1');
  assert.is(report.children.length, 2);
  for (const child of report.children) {
    assert.ok(child.pages.copied > 0, 'the example\'s workload copies pages');
    assert.ok(child.blame.some((b: { cause: string; pages: number }) => b.cause === 'string.coderange' && b.pages > 0), 'its names are hashed: string.coderange');
  }
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
  assert.equal(rubyFixtureProcesses(), [], 'no Ruby process left behind');
  assert.equal(processesMentioning([prefix]), [], 'nothing the installed cowscope started is left running');

  fs.rmSync(prefix, { recursive: true, force: true });
  fs.rmSync(packDir, { recursive: true, force: true });
  assert.not.ok(fs.existsSync(prefix));
});

test.run();
