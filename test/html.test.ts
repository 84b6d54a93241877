// The HTML report in a real browser: Debian's Chromium, headless, driven over the DevTools protocol
// (test/helpers/chromium.ts), opens each self-contained report and is asked what it shows: the legend
// against the causes of the JSON report of the same run, the colours of causes against the catalog's
// colour table and across two different reports, the contrast of every label as rendered (from the
// computed styles), a hover over a page map naming the page's owner, zoom, folded children and memory
// per process. A screenshot of each report is saved in the test's temporary folder.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Browser, Page } from './helpers/chromium';
import { Family, startFamily, stopAll } from './helpers/family';
import { RUBY_FIXTURES, runCowscope, tempDir } from './helpers/ruby';
import { causeColour } from '../blame/colours';
import { formatSize } from '../cli/render/units';
import { renderHtml } from '../cli/render/html';

const tmp = tempDir('test');
let family: Family | undefined;
let browser: Browser | undefined;
test.before(() => {
  browser = Browser.launch();
});
test.after(async () => {
  await browser?.close();
  await family?.stop();
  await stopAll();
  tmp.remove();
});

/** cause → its colour in the legend, as the browser computed it (#rrggbb) */
const legendColours: Map<string, string>[] = [];

// In the page: every visible text, its colour and the colour really behind it: at points along each
// line of text, the topmost element under the point with an opaque background (elementsFromPoint, in
// paint order, so a bar drawn under a label counts), and their WCAG 2 contrast ratio, the worst of the
// points. The viewport is first made as tall as the page, so that every point is in it.
const CONTRAST = String.raw`(() => {
  const rgb = (s) => { const m = /rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)/.exec(s); return m ? { c: [+m[1], +m[2], +m[3]], a: m[4] === undefined ? 1 : +m[4] } : null; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const behind = (x, y) => {
    for (const el of document.elementsFromPoint(x, y)) {
      const s = getComputedStyle(el);
      if (el.tagName === 'CANVAS' || s.backgroundImage !== 'none') return null; // pixels no style describes
      const b = rgb(s.backgroundColor);
      if (b && b.a === 1) return b.c;
      if (b && b.a > 0) return null;
    }
    return [255, 255, 255]; // the canvas behind the page
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || el.closest('script,style') || getComputedStyle(el).visibility !== 'visible') continue;
    const range = document.createRange(); range.selectNodeContents(n);
    const rects = [...range.getClientRects()].filter((r) => r.width > 1 && r.height > 1);
    if (!rects.length) continue;
    const fg = rgb(getComputedStyle(el).color);
    let worst = Infinity;
    for (const r of rects) for (const x of [r.left + 1, r.left + r.width / 2, r.right - 1]) {
      // a point another element covers (the hover box over a heading) shows that element, not this text
      const top = document.elementsFromPoint(x, r.top + r.height / 2)[0];
      if (top && top !== el && !el.contains(top) && !top.contains(el)) continue;
      const bg = behind(x, r.top + r.height / 2);
      if (!bg || fg.a !== 1) { worst = 0; continue; }
      const [p, q] = [lum(fg.c), lum(bg)].sort((a, b) => b - a);
      worst = Math.min(worst, (p + 0.05) / (q + 0.05));
    }
    // a label the hover box covers whole shows no pixel of its own: nothing to judge
    if (worst !== Infinity) out.push({ text: n.textContent.slice(0, 40), cls: el.className, ratio: worst });
  }
  return out;
})()`;

function assertContrast(all: { text: string; cls?: string; ratio: number }[], what: string): void {
  assert.ok(all.length > 10, `${what}: ${all.length} labels checked`);
  const bad = all.filter((x) => !(x.ratio >= 4.5));
  assert.equal(bad, [], `${what}: labels under 4.5:1`);
}

const hex = (s: string) => {
  const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(s)!;
  return `#${[m[1], m[2], m[3]].map((v) => Number(v).toString(16).padStart(2, '0')).join('')}`;
};

/** The legend's causes with their computed swatch colours; checks them against the catalog's table. */
async function legendOf(page: Page): Promise<Map<string, string>> {
  const items = await page.evaluate<{ cause: string; colour: string }[]>(
    `[...document.querySelectorAll('#legend li[data-cause]')].map((li) => ({ cause: li.dataset.cause, colour: getComputedStyle(li.querySelector('.sw')).backgroundColor }))`,
  );
  const m = new Map(items.map((x) => [x.cause, hex(x.colour)]));
  assert.is(m.size, items.length, 'each cause once in the legend');
  for (const [cause, colour] of m) assert.is(colour, causeColour(cause), `${cause} is drawn in the catalog's colour`);
  assert.is(new Set(m.values()).size, m.size, 'no two causes share a colour');
  return m;
}

async function contrastOf(page: Page): Promise<{ text: string; cls?: string; ratio: number }[]> {
  await page.fitViewport();
  // elementsFromPoint skips elements that take no pointer events (the hover box): let all take them
  await page.evaluate(`document.head.appendChild(Object.assign(document.createElement('style'), { id: 'probe', textContent: '*{pointer-events:auto !important}' })) && 1`);
  const all = await page.evaluate<{ text: string; cls?: string; ratio: number }[]>(CONTRAST);
  await page.evaluate(`document.getElementById('probe').remove()`);
  return all;
}

const sectionOrder = (page: Page) => page.evaluate<string[]>(`[...document.querySelectorAll('section[id]')].map((s) => s.id)`);

async function open(file: string): Promise<Page> {
  const page = await browser!.open(`file://${file}`);
  await page.screenshot(path.join(tmp.dir, `${path.basename(file)}.png`));
  assert.ok(fs.statSync(path.join(tmp.dir, `${path.basename(file)}.png`)).size > 10_000, 'the screenshot is not blank');
  return page;
}

test('text from processes is escaped: no markup, no control characters, no early end of the data script', () => {
  const hostile = 'evil</script><img src=x onerror=alert(1)>\x1b[31m\u202e';
  const page = renderHtml({
    title: hostile,
    facts: [hostile],
    pageSize: 4096,
    workers: 8,
    processes: [{ label: '1', role: 'parent', command: hostile, rss: { min: 1, median: 1, max: 1 }, pss: { min: 1, median: 1, max: 1 }, uss: { min: 1, median: 1, max: 1 } }],
    groups: [
      {
        id: 'g',
        title: hostile,
        pids: [2],
        copied: { min: 1, median: 1, max: 1 },
        copiedByParent: null,
        shared: { min: 0, median: 0, max: 0 },
        new: { min: 0, median: 0, max: 0 },
        causes: [{ cause: 'object.id', min: 1, median: 1, max: 1 }],
        regions: [],
        help: [],
        topClasses: [{ class: hostile, pages: 1, words: 1 }],
        map: { pid: 2, causes: ['object.id'], owners: [hostile], writers: [], regions: [{ region: 'ruby-heap', addr: [4096], cls: [2], cause: [0], owner: [0], writer: [-1] }] },
      },
    ],
    notes: [hostile],
  });
  assert.not.match(page, '<img');
  assert.is(page.split('</script>').length, 3, 'only the two scripts end');
  assert.not.match(page, /[\x1b\u202e]/);
  assert.match(page, 'evil&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62;\\x1b[31m\\u202e');
});

test('run --html: answer first, legend = causes of the report, catalog colours, readable labels, hover names an owner', async () => {
  const html = path.join(tmp.dir, 'run.html');
  const save = path.join(tmp.dir, 'run.cow');
  const r = runCowscope(['run', '--children', '3', '--json', '--html', html, '--save', save, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'objid' });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const source = fs.readFileSync(html, 'utf8');
  assert.not.match(source, /(src|href)=["']?(https?:|\/\/)|@import|url\(/, 'self-contained: nothing to fetch');
  const page = await open(html);

  assert.equal(await sectionOrder(page), ['answer', 'help', 'colours', 'causes', 'maps'], 'the order of the text report');
  const present = new Set<string>(report.children.flatMap((c: { blame: { cause: string; pages: number }[] }) => c.blame.filter((b) => b.pages > 0).map((b) => b.cause)));
  assert.ok(present.has('object.id'), 'the planted cause is blamed');
  const legend = await legendOf(page);
  assert.equal([...legend.keys()].sort(), [...present].sort(), 'legend entries are the causes present in the report');
  legendColours.push(legend);

  assertContrast(await contrastOf(page), 'run report');
  const chips = await page.evaluate<number>(`document.querySelectorAll('.chip').length`);
  assert.ok(chips >= present.size, `every cause has a chip (${chips})`);

  // children alike are folded: one map (the median child's), one process row for the three
  assert.is(await page.evaluate<number>(`document.querySelectorAll('.map').length`), 1);
  const pids: number[] = report.children.map((c: { pid: number }) => c.pid);
  const rows = await page.evaluate<string[][]>(`[...document.querySelectorAll('table.procs tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent))`);
  assert.is(rows.length, 3, 'parent, fork-time image, the children folded');
  assert.equal(rows[0].slice(0, 3), [String(report.parent), 'parent', formatSize(report.parentMemory.rss)]);
  assert.is(rows[2][0], `3 children (${pids.join(', ')})`);
  const heads = await page.evaluate<string[]>(`[...document.querySelectorAll('table.procs th')].map((th) => th.textContent)`);
  assert.equal(heads.slice(2, 5), ['RSS', 'PSS', 'USS']);
  const copied = report.children.map((c: { pages: { copied: number; copiedByParent: number } }) => c.pages.copied + c.pages.copiedByParent).sort((a: number, b: number) => a - b);
  assert.match(await page.evaluate<string>(`document.querySelector('#answer .big').textContent`), `stopped sharing ${formatSize(copied[1] * report.pageSize)} (${copied[1]} pages)`);

  // the address axis: each label is the address of its row's first page
  const axis = await page.evaluate<{ labels: string[]; first: string }>(
    `(() => { const m = JSON.parse(document.getElementById('data').textContent).maps[0]; const g = m.regions[0]; return { labels: [...document.querySelector('.axis').children].map((s) => s.textContent), first: '0x' + g.addr[0].toString(16) }; })()`,
  );
  assert.is(axis.labels[0], axis.first);
  assert.ok(axis.labels.every((l) => /^0x[0-9a-f]+$/.test(l)), axis.labels.join(' '));

  // hover a copied GC heap page the blame found an owner for
  const cell = await page.evaluate<{ x: number; y: number; pid: number; cause: string; owner: string } | null>(`(() => {
    const doc = JSON.parse(document.getElementById('data').textContent);
    for (const m of doc.maps) for (const g of m.regions) {
      // an object's page if there is one, else any page with an owner (a free slot)
      let i = g.owner.findIndex((o) => o >= 0 && !m.owners[o].startsWith('('));
      if (i < 0) i = g.owner.findIndex((o) => o >= 0);
      if (i < 0) continue;
      const c = document.querySelector('canvas[data-pid="' + m.pid + '"][data-region="' + g.region + '"]');
      c.scrollIntoView({ block: 'center' });
      const r = c.getBoundingClientRect(), cols = +c.dataset.cols, size = +c.dataset.cell;
      return { x: r.left + c.clientLeft + (i % cols) * size + size / 2, y: r.top + c.clientTop + Math.floor(i / cols) * size + size / 2, pid: m.pid, cause: m.causes[g.cause[i]], owner: m.owners[g.owner[i]] };
    }
    return null;
  })()`);
  assert.ok(cell, 'a page with an owner is on a map');
  const child = report.children.find((c: { pid: number }) => c.pid === cell!.pid);
  const classes: string[] = child.byClass.map((c: { class: string }) => c.class);
  assert.ok(classes.some((k) => cell!.owner.startsWith(k)), `owner ${cell!.owner} is one of the classes blame names: ${classes.join(', ')}`);
  await page.mouseMove(cell!.x, cell!.y);
  const tip = await page.evaluate<string[]>(`[...document.getElementById('tip').children].map((d) => d.textContent)`);
  assert.ok(tip.includes(`owner: ${cell!.owner}`), tip.join(' | '));
  assert.ok(tip.includes(`cause: ${cell!.cause}`), tip.join(' | '));
  assert.ok(tip.some((l) => l.startsWith('what writes it: ')), tip.join(' | '));
  // fault tracing runs by default as root: the page's first writer is named, code of the interpreter
  assert.ok(tip.some((l) => /^first writer: .+ \((ruby|libruby[^)]*|libc[^)]*)\)/.test(l)), tip.join(' | '));
  assertContrast(await contrastOf(page), 'run report with the hover shown');
  await page.screenshot(path.join(tmp.dir, 'run-hover.png'));

  // zoom in: cells of 8 px
  const plus = await page.evaluate<{ x: number; y: number }>(
    `(() => { const b = document.querySelector('button[data-zoom="1"]'); b.scrollIntoView({ block: 'center' }); const r = b.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`,
  );
  await page.click(plus.x, plus.y);
  assert.equal(await page.evaluate(`(() => { const c = document.querySelector('canvas'); return [c.dataset.cell, c.width]; })()`), ['8', 128 * 8]);

  // report FILE --html draws the same from the saved capture
  const again = path.join(tmp.dir, 'report.html');
  assert.is(runCowscope(['report', '--html', again, save]).status, 0);
  assert.equal(await legendOf(await open(again)), legend);
});

test('compare --html: strategies with median and spread, predicted and measured saving; colours as in the run report', async () => {
  const html = path.join(tmp.dir, 'compare.html');
  const r = runCowscope(['compare', '--repeat', '2', '--children', '1', '--strategies', 'none,warmup', '--json', '--html', html, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'coderange' });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const page = await open(html);
  assert.equal(await sectionOrder(page), ['answer', 'strategies', 'colours'], 'verdict, strategies, colours');
  const present = new Set<string>(report.strategies.flatMap((s: { blame: { cause: string; pages: number }[] }) => s.blame.filter((b) => b.pages > 0).map((b) => b.cause)));
  assert.ok(present.has('string.coderange'));
  const legend = await legendOf(page);
  assert.equal([...legend.keys()].sort(), [...present].sort(), 'legend entries are the causes present in the report');
  // the same cause has the same colour in both reports, whatever else each report holds
  const common = [...legend.keys()].filter((c) => legendColours[0].has(c));
  assert.ok(common.length >= 3, `causes in both reports: ${common.join(', ')}`);
  assert.ok([...legend.keys()].some((c) => !legendColours[0].has(c)) || [...legendColours[0].keys()].some((c) => !legend.has(c)), 'the two reports hold different causes');
  for (const c of common) assert.is(legend.get(c), legendColours[0].get(c), c);

  assertContrast(await contrastOf(page), 'compare report');
  const shown = await page.evaluate<{ label: string; val: string; whiskers: number; subs: string[] }[]>(
    `[...document.querySelectorAll('.strategy')].map((s) => ({ label: s.dataset.strategy, val: s.querySelector('.bar .val').textContent, whiskers: s.querySelectorAll('.bar .whisker').length, subs: [...s.querySelectorAll('.sub .k')].map((k) => k.textContent) }))`,
  );
  assert.equal(
    shown.map((s) => s.label),
    report.strategies.map((s: { label: string }) => s.label),
    'best first, as the report',
  );
  for (const [i, s] of report.strategies.entries()) {
    const c = s.copiedPerChild;
    const f = (b: number) => formatSize(Math.round(b));
    assert.ok(shown[i].val.includes(c.min === c.max ? `${f(c.median)} copied per child` : `${f(c.median)} (${f(c.min)}–${f(c.max)}) copied per child`), shown[i].val);
    assert.is(shown[i].whiskers, c.min === c.max ? 0 : 1, 'a whisker for the spread');
    assert.equal(shown[i].subs, s.name === 'none' ? ['causes (median pages)'] : ['measured saving', 'predicted saving', 'causes (median pages)']);
  }
});

test('inspect --html: a process family without blame, children alike folded, the odd one apart, memory per process', async () => {
  // two children copy 100 pages each, the third 300: two groups
  family = await startFamily(['--pages', '600', '--child', '0-99:10', '--child', '200-399/2:0', '--child', '0-299:3']);
  const html = path.join(tmp.dir, 'inspect.html');
  const r = runCowscope(['inspect', String(family.info.pid), '--json', '--html', html]);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const page = await open(html);
  assert.equal(await page.evaluate<number>(`document.querySelectorAll('#legend li[data-cause]').length`), 0, 'no causes: none in the legend');
  assert.ok(Number(await page.evaluate<string>(`document.body.dataset.painted`)) > 1000);
  const kids = [...family.info.children].sort((a, b) => a - b);
  const odd = report.sharing.reduce((a: { pid: number; pages: { copied: number } }, b: { pid: number; pages: { copied: number } }) => (b.pages.copied > a.pages.copied ? b : a)).pid;
  const pair = kids.filter((k) => k !== odd);
  const rows = await page.evaluate<string[][]>(`[...document.querySelectorAll('table.procs tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent))`);
  const target = report.processes.find((p: { pid: number }) => p.pid === family!.info.pid);
  assert.equal(rows[0].slice(0, 5), [String(target.pid), target.role, formatSize(target.rss), formatSize(target.pss), formatSize(target.uss)]);
  assert.equal(
    rows.slice(1).map((x) => x[0]),
    [`2 children (${pair.join(', ')})`, String(odd)],
    'the target, the two alike children folded, the third apart',
  );
  const maps = await page.evaluate<string[]>(`[...document.querySelectorAll('#maps h3')].map((h) => h.textContent)`);
  assert.is(maps.length, 2, maps.join(' | '));
  // the lower median (by copied pages, then pid) stands for the two
  const copiedOf = (pid: number) => report.sharing.find((x: { pid: number }) => x.pid === pid).pages.copied;
  const rep = [...pair].sort((a, b) => copiedOf(a) - copiedOf(b) || a - b)[0];
  assert.match(maps[0], `2 children of ${family.info.pid}, alike: page map of child ${rep}, the median of 2 children`);
  assert.match(maps[1], `child ${odd} of ${family.info.pid}: page map of child ${odd}`);
  assertContrast(await contrastOf(page), 'inspect report');
});

test.run();
