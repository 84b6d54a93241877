// gather/reuse.ts's kept blames across samples, without processes: a blame finished after later samples
// attached afresh (inspect --watch computes blames beside the samples) lands on the current entry when
// the child's inputs hash the same there, and not when they differ.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildBlame } from '../blame/engine';
import type { Capture, PageDiffs } from '../native/capture';
import { type AttachInputs, Reuse } from '../gather/reuse';

const diffsOf = (pid: number, newWord: bigint): PageDiffs => ({
  pid,
  reference: 100,
  addrs: Float64Array.of(0x7f0000001000),
  status: Uint8Array.of(1),
  wordPage: Uint32Array.of(0),
  wordOffset: Uint16Array.of(8),
  oldWord: BigUint64Array.of(1n),
  newWord: BigUint64Array.of(newWord),
});

const vma = { start: 0x7f0000000000, end: 0x7f0000010000, perms: 'rw-p', offset: 0, dev: '00:00', inode: 0, path: '' };
const parsed = {};
const inputs = (words: [bigint, bigint]): AttachInputs => ({
  runtime: 'ruby',
  parsed,
  mapFacts: { file: 'm' },
  pageSize: 4096,
  parent: { pid: 100, vmas: [vma] as AttachInputs['parent']['vmas'] },
  children: [201, 202].map((pid) => ({ pid, vmas: [vma] as AttachInputs['parent']['vmas'] })),
  diffs: [diffsOf(201, words[0]), diffsOf(202, words[1])],
});
const blame = (pid: number) => ({ pid }) as unknown as ChildBlame;
const attach = (reuse: Reuse, words: [bigint, bigint]) =>
  reuse.attach({} as Capture, inputs(words), () => undefined, Promise.resolve({ parent: false, rest: false }));

test("a blame set on an older sample reaches the current one when the child's inputs are the same there", async () => {
  const reuse = new Reuse();
  const first = await attach(reuse, [2n, 3n]);
  assert.is(first.reused, false);
  // child 202 changed: the structures are attached afresh; child 201's inputs are the same
  const second = await attach(reuse, [2n, 4n]);
  assert.is(second.reused, false);
  assert.match(second.why!, /child 202's diffs changed/);
  assert.is(second.blames.key(201), first.blames.key(201));
  assert.is.not(second.blames.key(202), first.blames.key(202));
  // the blames started in the first sample finish now
  first.blames.set(201, blame(201));
  first.blames.set(202, blame(202));
  assert.equal(second.blames.get(201), blame(201), "the unchanged child's blame is kept for the current sample");
  assert.is(second.blames.get(202), undefined, "the changed child's old blame is not");
  // and the next sample, unchanged, reuses what the current entry holds
  const third = await attach(reuse, [2n, 4n]);
  assert.equal(third.blames.get(201), blame(201));
  assert.is(third.blames.get(202), undefined);
});

test.run();
