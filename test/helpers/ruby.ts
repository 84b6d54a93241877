// Helpers for tests of `cowscope run` with Debian's Ruby.

import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, ROOT } from './family';

export const RUBY_FIXTURES = path.join(ROOT, 'fixtures', 'ruby');

export function runCowscope(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } });
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cowscope-${prefix}-`));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** cowscope's own temporary folders (one per run) still on disk. */
export function leftoverRunDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('cowscope-run-'));
}

/** Processes whose command line mentions one of the given paths (of this checkout only: another
 *  checkout's tests may run beside these). */
export function processesMentioning(paths: string[]): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (paths.some((p) => cmd.includes(p))) out.push(`${name} ${cmd}`);
  }
  return out;
}

/** Processes whose command line mentions one of this checkout's Ruby fixtures or its agent. */
export function rubyFixtureProcesses(): string[] {
  return processesMentioning([`${ROOT}/fixtures/ruby/`, `${ROOT}/runtimes/ruby/agent/cowscope.rb`]);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function region(child: any, name: string): any {
  return child.regions.find((g: { region: string }) => g.region === name)?.pages ?? { copied: 0, shared: 0, new: 0 };
}

/** The Rubies the Ruby tests run on: Debian's /usr/bin/ruby and every Ruby under /opt/rubies (the
 *  chruby layout `npm run rubies` installs). COWSCOPE_TEST_RUBIES (colon-separated paths) overrides. */
export function testRubies(): { ruby: string; version: string }[] {
  const paths = process.env.COWSCOPE_TEST_RUBIES
    ? process.env.COWSCOPE_TEST_RUBIES.split(':').filter(Boolean)
    : [
        '/usr/bin/ruby',
        ...(fs.existsSync('/opt/rubies') ? fs.readdirSync('/opt/rubies').sort().map((d) => path.join('/opt/rubies', d, 'bin', 'ruby')) : []),
      ];
  const out: { ruby: string; version: string }[] = [];
  for (const ruby of paths) {
    if (!fs.existsSync(ruby)) continue;
    const r = spawnSync(ruby, ['-e', 'print RUBY_VERSION'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0 && r.stdout) out.push({ ruby, version: r.stdout });
  }
  return out;
}

/** Where Debian puts its arch-independent gems (ruby-rails, ruby-rack and their dependencies). */
export const DEBIAN_GEMS = '/usr/share/rubygems-integration/all';

/** The environment in which a Ruby finds Debian's Rails and the gems it needs: Debian's own Ruby as it
 *  is; another Ruby through GEM_PATH (the trailing colon keeps that Ruby's own gem folders, where
 *  scripts/install-rails-gems.sh put the gems Debian has for Ruby 3.1 only: nokogiri, sqlite3, ...). */
export function railsGemsEnv(ruby: string): NodeJS.ProcessEnv {
  return ruby === '/usr/bin/ruby' ? {} : { GEM_PATH: `${DEBIAN_GEMS}:` };
}
