// What the C fixture planted, computed from the same page lists it was given.

import * as assert from 'uvu/assert';

interface Pages {
  shared: number;
  copied: number;
  copiedByParent: number | null;
  new: number;
  absent: number;
  swapped: number;
  zero: number;
}

/** Expand "0-9,20,30-39/2" like the fixture does. */
export function expand(list: string): Set<number> {
  const out = new Set<number>();
  for (const part of list.split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(part)!;
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    const s = m[3] ? Number(m[3]) : 1;
    for (let v = a; v <= b; v += s) out.add(v);
  }
  return out;
}

/** What the fixture planted in child c, as page counts of its mapping. zeroPages: the kernel maps the
 *  zero page on a read fault (the fixture's zeroPages); where it does not, the pages the parent only
 *  read are zeroed pages of its own, shared with the children as any page written before the fork. */
export function planted(pages: number, zero: number, childWrites: string, newPages: number, parentWrites: string, zeroPages: boolean): Omit<Pages, 'copiedByParent'> {
  const copied = new Set([...expand(childWrites), ...expand(parentWrites)]).size;
  return { shared: pages - copied + (zeroPages ? 0 : zero), copied, new: newPages, absent: 0, swapped: 0, zero: zeroPages ? zero : 0 };
}

/** The same, read live with siblings (exact tier): a page the parent wrote that this child and at least
 *  one sibling left alone is still one frame in both, so it is copiedByParent; the rest stay copied. */
export function plantedWithSiblings(pages: number, zero: number, childWrites: string, newPages: number, parentWrites: string, siblingWrites: string[], zeroPages: boolean): Pages {
  const own = expand(childWrites);
  const siblings = siblingWrites.map(expand);
  const byParent = [...expand(parentWrites)].filter((p) => !own.has(p) && siblings.some((w) => !w.has(p))).length;
  const all = planted(pages, zero, childWrites, newPages, parentWrites, zeroPages);
  return { ...all, copied: all.copied - byParent, copiedByParent: byParent };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fixtureMapping(report: any, childPid: number, base: number) {
  const s = report.sharing.find((x: any) => x.pid === childPid);
  assert.ok(s, `child ${childPid} has a sharing entry`);
  const m = s.mappings.find((x: any) => x.start === base);
  assert.ok(m, `child ${childPid} has the fixture mapping at ${base.toString(16)}`);
  return m;
}

