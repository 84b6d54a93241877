// The copied-pages-against-requests curve checked against a buffer each request copies one page of
// (fixtures/ruby/rack/pages.ru, fixtures/python/pages_app.py): request n writes page n-1 of a buffer
// made before the fork, so by the end of request n exactly n of its pages were first written.

import fs from 'node:fs';
import * as assert from 'uvu/assert';
import type { Capture } from '../../native/capture';

interface ReportChild {
  pid: number;
  writers: { requestCurve: { requests: number; ms: number; pages: number }[] };
}

/** bufferFile: the fixture's "first-page pages" (the buffer's whole pages); requests: each child's. */
export function assertRequestCurve(capture: Capture, children: ReportChild[], bufferFile: string, requests: number): void {
  const [first, pages] = fs.readFileSync(bufferFile, 'utf8').trim().split(' ').map(Number);
  assert.ok(requests <= pages, `${requests} requests write ${requests} of the buffer's ${pages} pages`);
  const inBuffer = (addr: number) => addr >= first && addr < first + pages * capture.meta.pageSize;
  for (const c of children) {
    const cw = capture.faults!.children.find((x) => x.pid === c.pid)!;
    const marks = cw.requests!;
    assert.ok(marks.length >= requests / 2, `${marks.length} request marks`);
    assert.is(marks[marks.length - 1].requests, requests, 'the last request is marked');
    const bufferTimes: number[] = [];
    for (let k = 0; k < cw.addrs.length; k++) if (inBuffer(cw.addrs[k])) bufferTimes.push(cw.ns[k]);
    assert.is(bufferTimes.length, requests, 'one buffer page per request, each with its first fault');
    for (const m of marks) assert.is(bufferTimes.filter((t) => t <= m.ns).length, m.requests, `buffer pages first written by the end of request ${m.requests}`);
    // the report's curve: at most 12 of the marks, the last kept; pages = every copied page with a
    // writer whose first fault came by then
    const curve = c.writers.requestCurve;
    assert.ok(curve.length > 0 && curve.length <= 12, `${curve.length} points`);
    assert.is(curve[curve.length - 1].requests, requests);
    for (const p of curve) {
      const m = marks.find((x) => x.requests === p.requests);
      assert.ok(m, `point after ${p.requests} requests is one of the marks`);
      assert.is(p.pages, Array.from(cw.ns).filter((t) => t <= m!.ns).length);
    }
    for (let i = 1; i < curve.length; i++) assert.ok(curve[i].pages - curve[i - 1].pages >= curve[i].requests - curve[i - 1].requests, 'at least a page per request');
  }
}
