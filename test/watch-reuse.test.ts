// inspect --watch reuses what the last sample found (gather/reuse.ts): the runtime's structures and the
// workers' blames, while every input and every byte of memory they were computed from is the same. The
// reused sample must equal a one-shot `inspect --json` of the same state exactly, and so must one that
// kept only the master's part (busy workers). Debian's Unicorn (preload_app, 2 workers, loopback) and
// the plain fork pool of fixtures/ruby/pool.rb, with the live agent; the state is held still by
// stopping the processes (SIGSTOP) between requests.

import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statOf } from '../native/proc';
import { inspectSample } from '../cli/commands/inspect';
import { Reuse } from '../gather/reuse';
import { readWords, readsUnchangedAsync, scanPointers, tapReadsAsync } from '../native/probe';
import { RUBY_FIXTURES, runCowscope, tempDir } from './helpers/ruby';
import { startJsonFamily } from './helpers/family';
import { get, startAgentUnicorn, stopFamily } from './helpers/servers';

const live = tempDir('watch-reuse');
let server: ChildProcess | undefined;
let master = 0;
let workers: number[] = [];
let port = 0;

test.before(async () => {
  ({ server, master, workers, port } = await startAgentUnicorn(live.dir));
});

test.after(async () => {
  for (const p of [...workers, master]) signal(p, 'SIGCONT');
  await stopFamily(master, 'SIGQUIT', server); // graceful: the master stops and reaps its workers
  for (const pid of [master, ...workers]) assert.is(statOf(pid), undefined, `process ${pid} is gone`);
  live.remove();
});

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

/** Stops the processes and waits until the kernel says they are stopped (state T). */
async function stop(pids: number[]): Promise<void> {
  for (const p of pids) signal(p, 'SIGSTOP');
  const deadline = Date.now() + 10_000;
  while (pids.some((p) => statOf(p)?.state !== 'T') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  for (const p of pids) assert.is(statOf(p)?.state, 'T', `process ${p} stopped`);
}

const args = () => ({ pid: String(master), heapMapDir: live.dir, json: true, mappings: false, bytes: false });

/** What must be equal: every worker's pages, blame, blame by region and remedies, and the notes. */
function perWorker(report: { sharing: unknown[]; notes: string[] }): unknown {
  return JSON.parse(JSON.stringify({ sharing: report.sharing, notes: report.notes }));
}

function oneShot(): unknown {
  const r = runCowscope(['inspect', String(master), '--json', '--heap-map-dir', live.dir]);
  assert.is(r.status, 0, r.stderr);
  return perWorker(JSON.parse(r.stdout));
}

test('a reused sample equals a one-shot inspect of the same state, before and after the workers change', async () => {
  const reuse = new Reuse();
  try {
    await stop([master, ...workers]);
    const first = await inspectSample(args(), reuse);
    assert.is(first.cost.groupsReused, 0, 'the first sample finds everything afresh');
    assert.ok(first.report.sharing.every((s) => (s.blame?.length ?? 0) > 0), 'every worker blamed');
    const second = await inspectSample(args(), reuse);
    assert.is(second.cost.groupsReused, 1, `nothing changed: the second sample reuses (${second.cost.notReused.join('; ')})`);
    const fresh = oneShot();
    assert.equal(perWorker(second.report), fresh, 'the reused sample is what a one-shot inspect finds');
    assert.equal(perWorker(first.report), fresh);

    // One worker serves requests (the master and the other worker stopped: Unicorn's workers accept on
    // the listening socket themselves), then stops: its copied pages change, the other's do not.
    signal(workers[1], 'SIGCONT');
    for (let i = 0; i < 30; i++) assert.is(await get(port), 200);
    await stop([workers[1]]);
    const third = await inspectSample(args(), reuse);
    assert.is(third.cost.groupsReused, 0, 'a worker changed: the structures are found afresh');
    const why = third.cost.notReused.join('; ');
    assert.ok(new RegExp(`: child ${workers[1]}'s (diffs|mappings) changed( \\(the parent's part kept\\))?$`).test(why), `the worker that served is named: ${why}`);
    const fresh2 = oneShot();
    assert.equal(perWorker(third.report), fresh2, 'after the change, the sample is again what a one-shot inspect finds');
    assert.not.equal(fresh2, fresh, 'the requests changed the worker');
    const fourth = await inspectSample(args(), reuse);
    assert.is(fourth.cost.groupsReused, 1);
    assert.equal(perWorker(fourth.report), fresh2);
  } finally {
    for (const p of [...workers, master]) signal(p, 'SIGCONT');
  }
});

// A Python family doing what pool.rb busy does: 2 workers rewriting the first byte of the same 1 000
// preloaded bytearrays (their reference counts too), every 20 ms; ends at stdin EOF.
const PY_BUSY = `
import json, os, sys, time
BUFS = [bytearray(b"row %d" % i) for i in range(20000)]
def work():
    i = 0
    while True:
        BUFS[i % 1000][0] = 97 + i % 26
        i += 1
        if i % 50 == 0:
            time.sleep(0.02)
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        sys.stdin.close()
        work()
    kids.append(pid)
print(json.dumps({"pid": os.getpid(), "children": kids}), flush=True)
sys.stdin.read()
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
`;

/** Busy workers (words changed, copied pages not): the parent's part of the structures is kept, and the
 *  sample is still what a one-shot inspect finds. The parent is stopped throughout (its own loop writes
 *  its memory); the workers run between samples, long after they went through their buffers once. */
async function busyWorkers(start: (maps: string) => ReturnType<typeof startJsonFamily<{ pid: number; children: number[] }>>): Promise<void> {
  const dir = tempDir('watch-busy');
  const maps = path.join(dir.dir, 'maps');
  const fam = await start(maps);
  const parent = fam.info.pid;
  const kids = fam.info.children;
  const sample = (reuse: Reuse) => inspectSample({ pid: String(parent), heapMapDir: maps, json: true, mappings: false, bytes: false }, reuse);
  const shot = () => {
    const r = runCowscope(['inspect', String(parent), '--json', '--heap-map-dir', maps]);
    assert.is(r.status, 0, r.stderr);
    return perWorker(JSON.parse(r.stdout));
  };
  try {
    await new Promise((r) => setTimeout(r, 1000)); // the workers go through their buffers
    await stop([parent, ...kids]);
    const reuse = new Reuse();
    const first = await sample(reuse);
    assert.is(first.cost.groupsReused + first.cost.groupsPartlyReused, 0, 'the first sample finds everything afresh');
    assert.ok(first.report.sharing.every((x) => (x.blame?.length ?? 0) > 0), 'every worker blamed');
    assert.equal(perWorker(first.report), shot());
    for (let round = 0; round < 3; round++) {
      for (const k of kids) signal(k, 'SIGCONT');
      await new Promise((r) => setTimeout(r, 150));
      await stop(kids);
      const s = await sample(reuse);
      assert.is(s.cost.groupsReused, 0, `round ${round}: the workers changed`);
      assert.is(s.cost.groupsPartlyReused, 1, `round ${round}: the parent's part kept (${s.cost.notReused.join('; ')})`);
      // the key's diff part hashes the new words (a worker's mappings may change too): the workers'
      // words changed (their counts per page and cause, all the report shows, may not)
      assert.match(s.cost.notReused.join('; '), /: child \d+'s (diffs|mappings) changed \(the parent's part kept\)$/);
      assert.equal(perWorker(s.report), shot(), `round ${round}: what a one-shot inspect finds`);
    }
  } finally {
    for (const p of [...kids, parent]) signal(p, 'SIGCONT');
    await fam.stop();
    dir.remove();
  }
}

test("busy Ruby workers (fixtures/ruby/pool.rb busy): the master's part of the structures kept, the sample what a one-shot inspect finds", async () => {
  const agent = runCowscope(['agent-path']).stdout.trim();
  await busyWorkers((maps) => startJsonFamily('ruby', [path.join(RUBY_FIXTURES, 'pool.rb'), '2', '0', 'busy'], 30_000, { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: maps }));
});

test("busy Python workers: the parent's part of the structures kept, the sample what a one-shot inspect finds", async () => {
  const agent = runCowscope(['agent-path', '--runtime', 'python']).stdout.trim();
  await busyWorkers((maps) => startJsonFamily('/usr/bin/python3', ['-c', PY_BUSY], 30_000, { ...process.env, PYTHONPATH: agent, COWSCOPE_LIVE_DIR: maps }));
});

test('a page read and a pointer-scan block over the same bytes are two reads, not memory that changed', async () => {
  try {
    await stop([master]);
    const heap = /^([0-9a-f]+)-([0-9a-f]+) rw-p .*\[heap\]$/m.exec(fs.readFileSync(`/proc/${master}/maps`, 'utf8'));
    assert.ok(heap, 'the master has a [heap]');
    const page = parseInt(heap[1], 16) + 4096;
    const { reads } = await tapReadsAsync(async () => {
      assert.ok(readWords(master, Float64Array.of(page)).ok[0], 'the page is present');
      scanPointers(master, Float64Array.of(page), Float64Array.of(page + 4096), Float64Array.of(1));
    });
    const kinds = Array.from(reads.kind).filter((_, i) => reads.pid[i] === master && reads.addr[i] === page && reads.len[i] === 4096);
    assert.equal(kinds.sort(), [0, 3], 'the page (read whole) and the block (scanned) are both recorded');
    assert.is(reads.conflicted, false, 'their hashes differ by construction: no conflict');
    assert.ok(await readsUnchangedAsync(reads), 'both read the same again');
  } finally {
    signal(master, 'SIGCONT');
  }
});

test.run();
