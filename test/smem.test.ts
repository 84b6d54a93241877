// PSS and USS per process agree with smem (Debian's, an independent implementation reading smaps) within
// 0.5%, or within smem's own rounding: smem sums per-mapping Pss values that the kernel truncates to
// whole kB, so it can read up to 1 kB per mapping low.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inspect } from '../cli/commands/inspect';
import { ROOT, runCli, startFamily, startJsonFamily, stopAll } from './helpers/family';

interface Row {
  uss: number;
  pss: number;
}

/** smem's per-process USS and PSS in bytes, from the live /proc or from a snapshot directory. */
function smem(source?: string): Map<number, Row> {
  const args = ['-c', 'pid uss pss', '-H', ...(source ? ['--source', source] : [])];
  const out = execFileSync('smem', args, { encoding: 'utf8' });
  const rows = new Map<number, Row>();
  for (const line of out.trim().split('\n')) {
    const [pid, uss, pss] = line.trim().split(/\s+/).map(Number);
    rows.set(pid, { uss: uss * 1024, pss: pss * 1024 });
  }
  return rows;
}

function mappingsOf(smaps: string): number {
  return smaps.split('\n').filter((l) => /^[0-9a-f]+-[0-9a-f]+ /.test(l)).length;
}

function assertAgrees(pid: number, ours: Row, theirs: Row | undefined, mappings: number): void {
  assert.ok(theirs, `smem lists ${pid}`);
  const pssSlack = Math.max(0.005 * theirs!.pss, mappings * 1024);
  assert.ok(Math.abs(ours.pss - theirs!.pss) <= pssSlack, `pid ${pid} PSS: cowscope ${ours.pss} vs smem ${theirs!.pss} (slack ${pssSlack})`);
  assert.ok(Math.abs(ours.uss - theirs!.uss) <= 0.005 * theirs!.uss, `pid ${pid} USS: cowscope ${ours.uss} vs smem ${theirs!.uss}`);
}

test.after(stopAll);

test('C fixture family: live cowscope and live smem agree', async () => {
  // The fixture is static, so no page it maps is also mapped by cowscope or smem themselves.
  const fam = await startFamily(['--pages', '2000', '--zero', '10', '--child', '0-499:20', '--child', '500-999/2:0', '--parent', '1500-1599']);
  try {
    const r = runCli(['inspect', String(fam.info.pid), '--json']);
    assert.is(r.status, 0, r.stderr);
    const theirs = smem();
    const report = JSON.parse(r.stdout);
    assert.is(report.processes.length, 3);
    for (const p of report.processes) assertAgrees(p.pid, p, theirs.get(p.pid), mappingsOf(fs.readFileSync(`/proc/${p.pid}/smaps`, 'utf8')));
  } finally {
    await fam.stop();
  }
});

test('Ruby family: cowscope and smem on one snapshot of /proc', async () => {
  // Shared libraries (libc, libm) are mapped by the observers too, so the family's PSS/USS move a little
  // with whichever observer runs. Reading smaps into a snapshot and inspecting from this same process
  // keeps the set of mappers identical for both tools.
  const fam = await startJsonFamily<{ pid: number; children: number[] }>('ruby', [path.join(ROOT, 'fixtures', 'ruby', 'family.rb'), '2']);
  const snap = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-smem-'));
  try {
    const pids = [fam.info.pid, ...fam.info.children];
    const mappings = new Map<number, number>();
    for (const pid of pids) {
      fs.mkdirSync(path.join(snap, 'proc', String(pid)), { recursive: true });
      for (const f of ['smaps', 'cmdline', 'stat']) fs.writeFileSync(path.join(snap, 'proc', String(pid), f), fs.readFileSync(`/proc/${pid}/${f}`));
      mappings.set(pid, mappingsOf(fs.readFileSync(path.join(snap, 'proc', String(pid), 'smaps'), 'utf8')));
    }
    fs.writeFileSync(path.join(snap, 'proc', 'meminfo'), fs.readFileSync('/proc/meminfo')); // smem reads it for totals
    const report = JSON.parse(await inspect({ pid: String(fam.info.pid), json: true, mappings: false, bytes: false }));
    const theirs = smem(snap);
    assert.equal(report.processes.map((p: { pid: number }) => p.pid).sort(), pids.sort());
    for (const p of report.processes) assertAgrees(p.pid, p, theirs.get(p.pid), mappings.get(p.pid)!);
    // and the children really copied pages: USS well above zero
    for (const c of fam.info.children) assert.ok(theirs.get(c)!.uss > 1024 * 1024, 'each child copied over 1 MiB');
  } finally {
    fs.rmSync(snap, { recursive: true, force: true });
    await fam.stop();
  }
});

test.run();
