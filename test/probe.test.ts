// The native probe against the real kernel and a real process family (the C fixture).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FamilyPair, KpageFlag, PageFlag, PageStatus, ProbeError, classifyExactRuns, comparePages, countClassRanges, features, markSharedFrames, pageClassCodes, pageFlagBits, pageSize, readFamilyPagemapsAsync, readKpage, readPagemap, readPages } from '../native/probe';
import { readMaps } from '../native/proc';
import { captureProcesses, checkTarget, isScanned } from '../native/capture';
import { PageClass, pairsToClassify, runsOf } from '../analyzers/classify';
import { Family, isRoot, startFamily, stopAll } from './helpers/family';

let fam: Family;
const PAGES = 64;
const ZERO = 4;
// child writes 0-7, parent writes 8-11; child has 2 new pages in the spare area
const CHILD = '0-7';
const PARENT = '8-11';

test.before(async () => {
  fam = await startFamily(['--pages', String(PAGES), '--zero', String(ZERO), '--child', `${CHILD}:2`, '--parent', PARENT]);
});
test.after(async () => {
  await fam?.stop();
  await stopAll();
});

const range = (base: number, from: number, to: number) => ({
  starts: Float64Array.of(base + from * pageSize),
  ends: Float64Array.of(base + to * pageSize),
});
const addrsOf = (base: number, idx: number[]) => Float64Array.from(idx, (i) => base + i * pageSize);
const word0 = (p: number) => 0x636f770000000000n | BigInt(p);

test('page size comes from sysconf', () => {
  assert.is(pageSize, Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()));
  assert.is(features().pageSize, pageSize);
});

test('pagemap: present, exclusive, zero and absent pages where the fixture put them', () => {
  const { base, children } = fam.info;
  const total = PAGES + ZERO + 2;
  const { starts, ends } = range(base, 0, total);
  const parent = readPagemap(fam.info.pid, starts, ends);
  const child = readPagemap(children[0], starts, ends);
  assert.is(parent.flags.length, total);
  assert.ok(parent.zeroScan, 'PAGEMAP_SCAN ran (kernel 6.7+)');
  for (let i = 0; i < total; i++) {
    const p = parent.flags[i];
    const c = child.flags[i];
    if (i < 8) assert.ok(p & PageFlag.exclusive && c & PageFlag.exclusive, `page ${i}: child wrote, both exclusive`);
    else if (i < 12) assert.ok(p & PageFlag.exclusive && c & PageFlag.exclusive, `page ${i}: parent wrote, both exclusive`);
    else if (i < PAGES) assert.ok(p & PageFlag.present && !(p & PageFlag.exclusive) && !(c & PageFlag.exclusive), `page ${i}: shared`);
    else if (i < PAGES + ZERO) {
      if (fam.info.zeroPages) assert.ok(p & PageFlag.zero && c & PageFlag.zero, `page ${i}: zero page in both`);
      // a kernel that maps no zero page on a read fault: a zeroed page of the parent's, shared as the rest
      else assert.ok(p & PageFlag.present && !((p | c) & (PageFlag.exclusive | PageFlag.zero)), `page ${i}: read only, shared, no zero page`);
    }
    else {
      assert.not.ok(p & PageFlag.present, `page ${i}: spare, untouched by the parent`);
      assert.ok(c & PageFlag.present && c & PageFlag.exclusive, `page ${i}: new in the child`);
    }
  }
  if (isRoot()) {
    for (let i = 12; i < PAGES; i++) assert.is(child.pfn[i], parent.pfn[i], `page ${i}: same frame`);
    for (let i = 0; i < 12; i++) assert.is.not(child.pfn[i], parent.pfn[i], `page ${i}: different frames`);
  }
});

test('comparePages: identical pages, and the exact changed words of copied pages', () => {
  const { base, children, pid } = fam.info;
  const idx = [0, 5, 8, 11, 12, 40];
  const cmp = comparePages(pid, children[0], addrsOf(base, idx));
  assert.equal(Array.from(cmp.status), [1, 1, 1, 1, 0, 0]);
  // Each copied page differs in exactly one word: the first, where one side flipped a byte.
  assert.equal(Array.from(cmp.wordPage), [0, 1, 2, 3]);
  assert.equal(Array.from(cmp.wordOffset), [0, 0, 0, 0]);
  assert.equal(Array.from(cmp.oldWord), [word0(0), word0(5), word0(8) ^ 0xa5n, word0(11) ^ 0xa5n]);
  assert.equal(Array.from(cmp.newWord), [word0(0) ^ 0x5an, word0(5) ^ 0x5an, word0(8), word0(11)]);
});

test('memory reads never touch pages that are not present', () => {
  const { base, pid } = fam.info;
  const spare = PAGES + ZERO; // untouched in the parent
  const reads = readPages(pid, addrsOf(base, [3, spare]));
  assert.equal(Array.from(reads.status), [PageStatus.ok, PageStatus.notPresentA]);
  const view = new DataView(reads.data.buffer, reads.data.byteOffset, reads.data.byteLength);
  assert.is(view.getBigUint64(0, true), word0(3));
  const after = readPagemap(pid, ...(Object.values(range(base, spare, spare + 1)) as [Float64Array, Float64Array]));
  assert.not.ok(after.flags[0] & PageFlag.present, 'the untouched page is still not present');
  const cmp = comparePages(pid, fam.info.children[0], addrsOf(base, [spare]));
  assert.equal(Array.from(cmp.status), [PageStatus.notPresentA]);
});

test('reading memory leaves shared pages shared (process_vm_readv would un-share them: FOLL_PIN)', () => {
  const { base, children, pid } = fam.info;
  const shared = Array.from({ length: PAGES - 12 }, (_, k) => 12 + k);
  const { starts, ends } = range(base, 12, PAGES);
  const before = readPagemap(children[0], starts, ends);
  const cmp = comparePages(pid, children[0], addrsOf(base, shared));
  readPages(children[0], addrsOf(base, shared));
  assert.ok(cmp.status.every((s) => s === PageStatus.ok), 'all identical');
  const after = readPagemap(children[0], starts, ends);
  const parentAfter = readPagemap(pid, starts, ends);
  for (let k = 0; k < shared.length; k++) {
    assert.not.ok(after.flags[k] & PageFlag.exclusive, `page ${shared[k]} still shared in the child`);
    assert.not.ok(parentAfter.flags[k] & PageFlag.exclusive, `page ${shared[k]} still shared in the parent`);
    if (isRoot()) assert.is(after.pfn[k], before.pfn[k], `page ${shared[k]} kept its frame`);
  }
});

test('kpagecount/kpageflags: shared frames are mapped twice, copies once, zero pages flagged (root)', () => {
  if (!isRoot()) assert.unreachable('this test needs root (CI runs as root)');
  const { base, children } = fam.info;
  const { starts, ends } = range(base, 0, PAGES + ZERO);
  const child = readPagemap(children[0], starts, ends);
  const kp = readKpage(child.pfn);
  for (let i = 0; i < 12; i++) assert.is(kp.count[i], 1, `page ${i}: one mapper`);
  for (let i = 12; i < PAGES; i++) assert.is(kp.count[i], 2, `page ${i}: parent and child`);
  for (let i = PAGES; i < PAGES + ZERO; i++)
    if (fam.info.zeroPages) assert.ok(kp.flags[i] & KpageFlag.zeroPage, `page ${i}: zero page`);
    else assert.ok(kp.count[i] === 2 && !(kp.flags[i] & KpageFlag.zeroPage), `page ${i}: read only, a frame of the parent's mapped by both`);
  for (let i = 0; i < PAGES; i++) assert.ok(kp.flags[i] & KpageFlag.anon, `page ${i}: anon`);
});

test('errors carry errno, code and a hint that names the fix', () => {
  const one = Float64Array.of(0x10000);
  const two = Float64Array.of(0x11000);
  try {
    readPagemap(4194304 + 1, one, two);
    assert.unreachable('read a pid that cannot exist');
  } catch (e) {
    assert.instance(e, ProbeError);
    const err = e as ProbeError;
    assert.is(err.code, 'ENOENT');
    assert.is(err.errno, 2);
    assert.match(err.hint, /check the pid/);
  }
  assert.throws(() => readPagemap(1, Float64Array.of(1), Float64Array.of(4097)), /page-aligned/);
  assert.throws(() => readPagemap(1, Float64Array.of(0), Float64Array.of(0, 1)), /differ in length/);
});

test('pagemap entries decode as pagemap.rst defines their bits: every page of the fixture, read raw beside', () => {
  const { base, pid } = fam.info;
  const total = PAGES + ZERO + 2;
  const { starts, ends } = range(base, 0, total);
  const zero = { scan: false, zeroPfn: features().zeroPfn };
  const cols = readPagemap(pid, starts, ends, zero);
  const raw = Buffer.alloc(total * 8);
  const fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    assert.is(fs.readSync(fd, raw, 0, raw.length, (base / pageSize) * 8), raw.length);
  } finally {
    fs.closeSync(fd);
  }
  const bit = (e: bigint, n: number) => ((e >> BigInt(n)) & 1n) === 1n;
  for (let i = 0; i < total; i++) {
    const e = raw.readBigUInt64LE(i * 8);
    const frame = Number(e & ((1n << 55n) - 1n));
    let f = 0;
    if (bit(e, 63)) f |= PageFlag.present;
    if (bit(e, 58)) f |= PageFlag.guard; // a guard marker sets bit 62 too: not swap
    else if (bit(e, 62)) f |= PageFlag.swapped;
    if (bit(e, 56)) f |= PageFlag.exclusive;
    if (bit(e, 61)) f |= PageFlag.file;
    if (bit(e, 55)) f |= PageFlag.softDirty;
    if (bit(e, 57)) f |= PageFlag.uffdWp;
    if (zero.zeroPfn && bit(e, 63) && frame === zero.zeroPfn) f |= PageFlag.zero;
    assert.is(cols.flags[i], f, `page ${i}: flags of entry 0x${e.toString(16)}`);
    assert.is(cols.pfn[i], frame, `page ${i}: frame`);
  }
  assert.ok(cols.flags.some((f) => f & PageFlag.exclusive) && cols.flags.some((f) => !(f & PageFlag.present)), 'both kinds of page were read');
});

test('the flags column has one bit table: the addon\'s and page-flags.ts say the same', () => {
  assert.equal(pageFlagBits(), { ...PageFlag });
});

test('family pagemaps, read in step: each process as readPagemap reads it alone; a missing process fails alone', async () => {
  const feat = features();
  const rangesOf = (pid: number) => {
    const v = readMaps(pid).filter(isScanned);
    return { pid, starts: Float64Array.from(v, (x) => x.start), ends: Float64Array.from(v, (x) => x.end) };
  };
  // a second family of 20000 pages, the child wrote every 7th: many windows, on every stripe
  const big = await startFamily(['--pages', '20000', '--child', '0-19999/7:0']);
  const family = [fam.info.pid, ...fam.info.children, big.info.pid, ...big.info.children].map(rangesOf);
  // the same family with a process that does not exist in the middle
  const withMissing = [family[0], { pid: 2 ** 22 - 1, starts: Float64Array.of(4096), ends: Float64Array.of(8192) }, ...family.slice(1)];
  const modes = [{ scan: true, zeroPfn: 0 }, ...(feat.zeroPfn ? [{ scan: false, zeroPfn: feat.zeroPfn }] : [])];
  for (const zero of modes) {
    const together = await readFamilyPagemapsAsync(withMissing, zero);
    assert.is(together.length, withMissing.length);
    const missing = together[1];
    assert.instance(missing, ProbeError);
    assert.match((missing as ProbeError).hint, /check the pid/);
    const read = together.filter((_, i) => i !== 1);
    family.forEach((m, i) => {
      const r = read[i];
      if (r instanceof Error) throw r;
      const alone = readPagemap(m.pid, m.starts, m.ends, zero);
      assert.ok(r.flags.length > PAGES, 'every scanned mapping read');
      assert.equal(Array.from(r.flags), Array.from(alone.flags), `flags of ${m.pid}`);
      assert.equal(Array.from(r.pfn), Array.from(alone.pfn), `frames of ${m.pid}`);
      assert.is(r.zeroScan, alone.zeroScan);
      assert.is(r.short, false);
    });
  }
  let unsorted: unknown;
  try {
    await readFamilyPagemapsAsync([{ pid: fam.info.pid, starts: Float64Array.of(8192, 4096), ends: Float64Array.of(12288, 8192) }]);
  } catch (e) {
    unsorted = e;
  }
  assert.match(String(unsorted), /sorted and apart/);
  await big.stop();
});

test('family pagemaps with pairs: each child classified as classifyExactRuns and markSharedFrames classify it read alone; a compact child keeps the frames that differ from its parent\'s', async () => {
  const feat = features();
  if (!feat.pfnVisible) assert.unreachable('pairs are classified as read in the exact tier only: this test needs root (CI runs as root)');
  // Both ways the read finds zero pages: by the zero page's frame where read faults map it, and by
  // PAGEMAP_SCAN window by window (a kernel that maps no zero page gives no frame to know it by).
  const modes = [...(feat.zeroPfn ? [{ scan: false, zeroPfn: feat.zeroPfn }] : []), ...(feat.pagemapScan ? [{ scan: true, zeroPfn: 0 }] : [])];
  assert.ok(modes.length, 'the zero page known by its frame, or PAGEMAP_SCAN (kernel 6.7+)');
  // 20000 pages: windows on both stripes. The parent writes 5000-5999 after the fork, so the children
  // still share those at one frame (copiedByParent) where neither wrote them: about 1000 x 6/7 x 2/3.
  // 3 transparent huge pages of the parent's, where the kernel gives them: PAGEMAP_SCAN marks their 1536
  // pages huge, window by window, where the flags read alone have them.
  const two = await startFamily(['--pages', '20000', '--zero', '8', '--child', '0-19999/7:5', '--child', '0-9999/3:0', '--parent', '5000-5999', '--huge', '3']);
  try {
    const members = [two.info.pid, ...two.info.children].map((pid) => {
      const vmas = readMaps(pid);
      const scanned = vmas.flatMap((v, i) => (isScanned(v) ? [i] : []));
      return { pid, vmas, scanned, starts: Float64Array.from(scanned, (i) => vmas[i].start), ends: Float64Array.from(scanned, (i) => vmas[i].end) };
    });
    const pairs: FamilyPair[] = [1, 2].map((child) => ({
      child,
      reference: 0,
      runs: runsOf(members[child], members[0], pageSize),
      siblings: [{ member: 3 - child, runs: runsOf(members[child], members[3 - child], pageSize) }],
      zeroMask: PageFlag.zero,
      compact: child === 2,
    }));
    for (const zero of modes) {
      const how = zero.scan ? 'PAGEMAP_SCAN' : 'the zero frame';
      const read = await readFamilyPagemapsAsync(members, zero, pairs);
      const alone = members.map((m) => readPagemap(m.pid, m.starts, m.ends, zero));
      pairs.forEach((pair) => {
        const r = read[pair.child];
        if (r instanceof Error) throw r;
        assert.is(r.zeroScan, zero.scan, `${how}: zero pages scanned`);
        const expected = new Uint8Array(alone[pair.child].flags.length);
        classifyExactRuns(expected, alone[pair.child], alone[0], pair.runs, PageFlag.zero);
        markSharedFrames(expected, alone[pair.child], alone[pair.siblings[0].member], pair.siblings[0].runs);
        const count = (c: number) => expected.filter((x) => x === c).length;
        assert.ok(count(PageClass.copied) >= 2857 && count(PageClass.copiedByParent) >= 500, `${how}: every class the rules give: ${count(PageClass.copied)} copied, ${count(PageClass.copiedByParent)} by the parent`);
        // the 8 pages the parent only read: zero pages where read faults map it, else shared frames
        assert.ok(two.info.zeroPages ? count(PageClass.zero) >= 8 : count(PageClass.zero) === 0, `${how}: ${count(PageClass.zero)} zero pages`);
        assert.equal(Array.from(r.classes!), Array.from(expected), `${how}: classes of child ${pair.child}`);
        assert.equal(Array.from(r.flags), Array.from(alone[pair.child].flags), `${how}: flags of child ${pair.child}`);
      });
      // the compact child: no column of its own; the parent's frames at the paired pages and those kept
      const compact = read[2];
      if (compact instanceof Error || read[0] instanceof Error) throw compact;
      assert.is(compact.pfn, undefined);
      const { index, pfn } = compact.pfnChanged!;
      assert.ok(index.length >= 2857 + 5 && index.length < 6000, `${index.length} frames kept: the pages it copied or made, not all ${compact.flags.length}`);
      const rebuilt = new Float64Array(compact.flags.length);
      const runs = pairs[1].runs;
      for (let k = 0; k < runs.length; k += 3) if (runs[k + 1] >= 0) rebuilt.set(read[0].pfn!.subarray(runs[k + 1], runs[k + 1] + runs[k + 2]), runs[k]);
      index.forEach((i, j) => (rebuilt[i] = pfn[j]));
      assert.equal(Array.from(rebuilt), Array.from(alone[2].pfn));
      assert.equal(Array.from(read[0].flags), Array.from(alone[0].flags), `${how}: the parent's flags`);
      const huge = read[0].flags.filter((f) => f & PageFlag.huge).length;
      assert.is(huge, zero.scan ? two.info.hugePages : 0, `${how}: ${huge} pages marked huge (the fixture has ${two.info.hugePages} in huge pages)`);
    }
    // a pair that names no member, or runs out of order, is refused before anything is read
    for (const [bad, message] of [
      [{ ...pairs[0], reference: 7 }, /names no member/],
      [{ ...pairs[0], runs: Float64Array.of(5, 0, 1, 0, 0, 1) }, /out of order/],
      [{ ...pairs[1], reference: 2 }, /its own reference/],
    ] as const) {
      let error: unknown;
      await readFamilyPagemapsAsync(members, modes[0], [bad]).catch((e) => (error = e));
      assert.match(String(error), message);
    }

    // Through captureProcesses: the classes ride along, and the compact child's column, rebuilt when
    // first read, is the column read alone.
    const targets = [two.info.pid, ...two.info.children].map((pid) => checkTarget(pid));
    const captured = await captureProcesses(targets, { classifyWhileReading: pairsToClassify });
    assert.equal(
      captured.classesRead?.map((c) => [c.child.pid, c.reference.pid, c.siblings.map((s) => s.pid)]),
      [1, 2].map((i) => [two.info.children[i - 1], two.info.pid, [two.info.children[2 - i]]]),
    );
    const second = captured.processes.find((p) => p.pid === two.info.children[1])!;
    assert.equal(Array.from(second.pages.pfn), Array.from(readPagemap(second.pid, members[2].starts, members[2].ends, modes[0]).pfn));
  } finally {
    await two.stop();
  }
});

test('the class codes have one table: the classification kernels\' and classify.ts say the same', () => {
  assert.equal(pageClassCodes(), { ...PageClass });
});

// Exact tier, one page per row: child flags and frame, reference flags and frame, the class (the rules
// of classifyPair, in their order).
const { present: Pr, swapped: Sw, file: Fi, zero: Ze, exclusive: Ex } = PageFlag;
const EXACT_ROWS: [string, number, number, number, number, number][] = [
  ['neither has it', 0, 0, 0, 0, PageClass.none],
  ['child swapped it', Sw, 0, Pr, 7, PageClass.swapped],
  ['only the reference has it', 0, 0, Pr, 7, PageClass.absent],
  ['the zero page', Pr | Ze, 1, Pr | Ze, 1, PageClass.zero],
  ['page cache the reference never faulted', Pr | Fi, 9, 0, 0, PageClass.shared],
  ['the reference swapped it, the child holds it', Pr | Ex, 9, Sw, 5, PageClass.copied],
  ['only the child has it', Pr | Ex, 9, 0, 0, PageClass.new],
  ['same frame', Pr, 2 ** 40 + 3, Pr, 2 ** 40 + 3, PageClass.shared],
  ['different frames', Pr | Ex, 2 ** 40 + 3, Pr | Ex, 2 ** 40 + 4, PageClass.copied],
];

test('classification kernel (exact tier): each rule, a run without a paired mapping, runs checked', () => {
  const n = EXACT_ROWS.length;
  const child = { flags: Uint16Array.from(EXACT_ROWS, (r) => r[1]), pfn: Float64Array.from(EXACT_ROWS, (r) => r[2]) };
  // the reference's pages sit 2 further on, after 2 pages of its own
  const ref = { flags: Uint16Array.from([0, 0, ...EXACT_ROWS.map((r) => r[3])]), pfn: Float64Array.from([0, 0, ...EXACT_ROWS.map((r) => r[4])]) };
  const classes = new Uint8Array(n);
  classifyExactRuns(classes, child, ref, Float64Array.of(0, 2, 4, 4, 6, n - 4), Ze);
  assert.equal(Array.from(classes), EXACT_ROWS.map((r) => r[5]), EXACT_ROWS.map((r) => r[0]).join(', '));
  // No paired mapping: swapped, zero, page cache (shared) or the child's own (new).
  const lone = new Uint8Array(n);
  classifyExactRuns(lone, child, ref, Float64Array.of(0, -1, n), Ze);
  assert.equal(Array.from(lone), [PageClass.none, PageClass.swapped, PageClass.none, PageClass.zero, PageClass.shared, PageClass.new, PageClass.new, PageClass.new, PageClass.new]);
  // Zero pages not known: the zero page compares by frame.
  classifyExactRuns(classes, child, ref, Float64Array.of(3, 5, 1), 0);
  assert.is(classes[3], PageClass.shared);
  assert.throws(() => classifyExactRuns(classes, child, ref, Float64Array.of(0, 3, n), Ze), /outside the pages/);
  assert.throws(() => classifyExactRuns(classes, child, ref, Float64Array.of(1, -1, n), Ze), /outside the pages/);
  assert.throws(() => classifyExactRuns(classes, child, ref, Float64Array.of(0, 0), Ze), /triples/);
  assert.throws(() => classifyExactRuns(new Uint8Array(n - 1), child, ref, Float64Array.of(0, 0, 1), Ze), /differ in length/);
});

test('sibling kernel: a copied page a sibling maps at the same frame becomes copiedByParent, nothing else', () => {
  // child page: class, flags, frame; sibling page: flags, frame; then the expected class
  const rows: [number, number, number, number, number, number][] = [
    [PageClass.copied, Pr, 5, Pr, 5, PageClass.copiedByParent],
    [PageClass.copied, Pr, 5, Pr, 6, PageClass.copied],
    [PageClass.copied, Pr, 5, 0, 5, PageClass.copied],
    [PageClass.copied, Pr | Fi, 5, Pr | Fi, 5, PageClass.copied],
    [PageClass.shared, Pr, 5, Pr, 5, PageClass.shared],
    [PageClass.new, Pr, 5, Pr, 5, PageClass.new],
  ];
  const classes = Uint8Array.from(rows, (r) => r[0]);
  const child = { flags: Uint16Array.from(rows, (r) => r[1]), pfn: Float64Array.from(rows, (r) => r[2]) };
  const sibling = { flags: Uint16Array.from(rows, (r) => r[3]), pfn: Float64Array.from(rows, (r) => r[4]) };
  assert.is(markSharedFrames(classes, child, sibling, Float64Array.of(0, 0, rows.length)), 1);
  assert.equal(Array.from(classes), rows.map((r) => r[5]));
  // a run without a sibling mapping changes nothing
  const again = Uint8Array.from(rows, (r) => r[0]);
  assert.is(markSharedFrames(again, child, sibling, Float64Array.of(0, -1, rows.length)), 0);
  assert.equal(Array.from(again), rows.map((r) => r[0]));
});

test('siblings\' frame check over long runs: copied pages at every alignment, among many that are not', () => {
  const n = 1000;
  const classes = new Uint8Array(n).fill(PageClass.shared);
  const copiedAt = [0, 1, 7, 8, 9, 15, 16, 63, 64, 100, 101, 102, 500, 993, 999];
  for (const i of copiedAt) classes[i] = PageClass.copied;
  const child = { flags: new Uint16Array(n).fill(PageFlag.present), pfn: Float64Array.from({ length: n }, (_, i) => 1000 + i) };
  // the sibling keeps the child's frame on even pages, its own on odd ones
  const sibling = { flags: new Uint16Array(n).fill(PageFlag.present), pfn: Float64Array.from({ length: n }, (_, i) => (i % 2 ? 5000 + i : 1000 + i)) };
  const expected = Array.from(classes, (c, i) => (c === PageClass.copied && i % 2 === 0 ? PageClass.copiedByParent : c));
  for (const [from, count] of [[0, n], [3, 990], [9, 1]]) {
    const got = classes.slice();
    const marked = markSharedFrames(got, child, sibling, Float64Array.of(from, from, count));
    const want = Array.from(classes, (c, i) => (i >= from && i < from + count ? expected[i] : c));
    assert.equal(Array.from(got), want, `run [${from}, ${from + count})`);
    assert.is(marked, want.filter((c) => c === PageClass.copiedByParent).length);
  }
});

test('class counts per page range: 8 per range, by class code; ranges checked', () => {
  const classes = Uint8Array.of(1, 1, 2, 7, 0, 4, 4, 4, 3);
  const counts = countClassRanges(classes, Float64Array.of(0, 9, 2, 4, 5, 5));
  assert.equal(Array.from(counts), [1, 2, 1, 1, 3, 0, 0, 1, /**/ 0, 0, 1, 0, 0, 0, 0, 1, /**/ 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => countClassRanges(classes, Float64Array.of(0, 10)), /outside the pages/);
  assert.throws(() => countClassRanges(classes, Float64Array.of(3, 2)), /outside the pages/);
  assert.throws(() => countClassRanges(classes, Float64Array.of(0)), /pairs/);
});

test('class counts of long runs and mixed words, at every alignment: the same as counting page by page', () => {
  // runs of one class (counted 8 pages at a time) broken by single pages of others, and a mixed stretch
  const classes = new Uint8Array(1000);
  for (let i = 0; i < classes.length; i++) classes[i] = i < 300 ? 1 : i < 310 ? i % 8 : i % 97 === 0 ? 2 : i < 700 ? 5 : 1;
  for (const [from, to] of [[0, 1000], [1, 999], [3, 11], [7, 8], [295, 317], [300, 300], [13, 700]]) {
    const expected = new Array(8).fill(0);
    for (let i = from; i < to; i++) expected[classes[i]]++;
    assert.equal(Array.from(countClassRanges(classes, Float64Array.of(from, to))), expected, `[${from}, ${to})`);
  }
});

test.run();
