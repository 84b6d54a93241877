// The sections of the HTML report as plain HTML, in the order of the text report: answer, what would
// help, causes (or, for compare, the strategy chart and its causes), then page maps and notes. Every
// text that came from a process or a file is escaped twice over: control characters (escape.ts), then
// HTML. Every label drawn on a colour carries the black or white that contrasts with it.

import type { ChildGroup, HtmlDoc, Spread, StrategyRow } from '../html';
import { CAUSES, FAMILIES, Family, causeFix, causeRow } from '../../../blame/catalog';
import { CLASS_COLOURS, causeColour } from '../../../blame/colours';
import { REGIONS } from '../../../analyzers/regions';
import { escapeControl } from '../escape';
import { formatSize } from '../units';
import { textOn } from './contrast';

export function escapeHtml(s: string): string {
  return escapeControl(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
const e = escapeHtml;

const range = (s: Spread, f: (n: number) => string) => (s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const pct = (part: number, whole: number) => (whole ? `${((100 * part) / whole).toFixed(0)}%` : '–');

/** A cause's name on its colour. */
function chip(cause: string): string {
  const bg = causeColour(cause);
  return `<span class="chip" data-cause="${e(cause)}" style="background:${bg};color:${textOn(bg)}">${e(cause)}</span>`;
}

/** Every cause the report shows (pages in some child or strategy), catalog order. */
export function causesPresent(doc: HtmlDoc): string[] {
  const present = new Set<string>();
  for (const g of doc.groups) for (const c of g.causes) if (c.max > 0) present.add(c.cause);
  for (const s of doc.strategies ?? []) for (const c of s.causes) if (c.pages > 0) present.add(c.cause);
  for (const g of doc.groups) for (const r of g.map?.regions ?? []) for (const k of r.cause) if (k >= 0) present.add(g.map!.causes[k]);
  const order = new Map(CAUSES.map((c, i) => [c.id, i]));
  return [...present].sort((a, b) => (order.get(a) ?? CAUSES.length) - (order.get(b) ?? CAUSES.length) || a.localeCompare(b));
}

// Page classes as the maps draw them: code → name (analyzers/classify.ts PageClass).
const CLASS_NAMES: Record<number, keyof typeof CLASS_COLOURS> = {
  1: 'shared',
  2: 'copied (no blame)',
  3: 'copied by parent',
  4: 'new',
  5: 'not resident (absent, zero page)',
  6: 'swapped',
  7: 'not resident (absent, zero page)',
};

function classesPresent(doc: HtmlDoc): (keyof typeof CLASS_COLOURS)[] {
  const present = new Set<string>();
  for (const g of doc.groups)
    for (const r of g.map?.regions ?? []) r.cls.forEach((c, i) => CLASS_NAMES[c] && !(c === 2 && r.cause[i] >= 0) && present.add(CLASS_NAMES[c]));
  return (Object.keys(CLASS_COLOURS) as (keyof typeof CLASS_COLOURS)[]).filter((k) => present.has(k));
}

/** What the page's script needs to draw the maps. */
export function mapData(doc: HtmlDoc) {
  // the writer a hover names: what the cause's catalog row says wrote the page (none for unknown causes)
  const causes: Record<string, { colour: string; writer: string }> = {};
  for (const c of causesPresent(doc)) causes[c] = { colour: causeColour(c), writer: causeRow(c)?.family === 'unknown' ? '' : (causeRow(c)?.meaning ?? '') };
  return {
    pageSize: doc.pageSize,
    classColours: CLASS_COLOURS,
    classNames: CLASS_NAMES,
    causes,
    // owner names come from the heap map (class names): their control characters are escaped too
    maps: doc.groups.filter((g) => g.map).map((g) => ({ group: g.id, ...g.map!, owners: g.map!.owners.map(escapeControl) })),
  };
}

function legend(doc: HtmlDoc): string {
  const causes = causesPresent(doc);
  const families = (Object.keys(FAMILIES) as Family[])
    .map((f) => ({ f, members: causes.filter((c) => (causeRow(c)?.family ?? 'unknown') === f) }))
    .filter((x) => x.members.length);
  const items = families.map(
    ({ f, members }) =>
      `<div class="family"><span class="fname">${e(f)}</span> <span class="fmean">${e(FAMILIES[f])}</span><ul>${members
        .map((c) => `<li data-cause="${e(c)}"><span class="sw" style="background:${causeColour(c)}"></span>${e(c)}</li>`)
        .join('')}</ul></div>`,
  );
  const classes = classesPresent(doc).map((k) => `<li data-class="${e(k)}"><span class="sw" style="background:${CLASS_COLOURS[k]}"></span>${e(k)}</li>`);
  return `<div id="legend" aria-label="colours">${items.join('')}${classes.length ? `<div class="family"><span class="fname">pages</span> <span class="fmean">not copied, or copied without a cause</span><ul>${classes.join('')}</ul></div>` : ''}</div>`;
}

function processTable(doc: HtmlDoc): string {
  if (!doc.processes.length) return '';
  const size = (b: number) => formatSize(b);
  const rows = doc.processes.map(
    (p) =>
      `<tr><td>${e(p.label)}</td><td>${e(p.role)}</td><td class="n">${range(p.rss, size)}</td><td class="n">${range(p.pss, size)}</td><td class="n">${range(p.uss, size)}</td>${
        doc.processes.some((x) => x.command) ? `<td class="cmd">${e(p.command ?? '')}</td>` : ''
      }</tr>`,
  );
  return `<h3>Memory per process</h3><p class="hint">RSS: resident; PSS: resident with each shared page divided among its sharers; USS: resident in this process alone (what ending it frees). Folded rows: median (min–max).</p>
<table class="procs"><thead><tr><th>process</th><th>role</th><th>RSS</th><th>PSS</th><th>USS</th>${doc.processes.some((x) => x.command) ? '<th>command</th>' : ''}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function answer(doc: HtmlDoc): string {
  const ps = doc.pageSize;
  const size = (pages: number) => formatSize(pages * ps);
  const parts = doc.groups.map((g) => {
    const lost: Spread = {
      min: g.copied.min + (g.copiedByParent?.min ?? 0),
      median: g.copied.median + (g.copiedByParent?.median ?? 0),
      max: g.copied.max + (g.copiedByParent?.max ?? 0),
    };
    const n = g.pids.length;
    const who = n === 1 ? `Child ${g.pids[0]}` : `Each of the ${n} children`;
    const how = g.copiedByParent
      ? `${size(g.copied.median)} copied by the child's own writes, ${size(g.copiedByParent.median)} because the parent wrote its own copy`
      : `${size(g.copied.median)} copied since the fork (written by the child or by its parent: telling which needs a fork-time image, cowscope run)`;
    const resident = g.shared.median + lost.median + g.new.median;
    return `<div class="answer" data-group="${e(g.id)}"><h3>${e(g.title)}</h3><p class="big">${e(who)} stopped sharing <strong>${size(lost.median)}</strong> (${plural(
      lost.median,
      'page',
    )})${n > 1 ? ` — median; min ${size(lost.min)}, max ${size(lost.max)}` : ''}.</p><p>${how}; it still shares ${size(
      g.shared.median,
    )} (${pct(g.shared.median, resident)} of its resident private memory) and has ${size(g.new.median)} of its own new pages. At ${doc.workers} workers the copies add up to ${formatSize(
      doc.workers * lost.median * ps,
    )}.</p></div>`;
  });
  const verdict = doc.verdict ? `<p class="big">${e(doc.verdict)}</p>` : '';
  return `<section id="answer"><h2>The answer: how much each child stopped sharing</h2>${verdict}${parts.join('')}${processTable(doc)}</section>`;
}

function help(doc: HtmlDoc): string {
  const ps = doc.pageSize;
  const size = (pages: number) => formatSize(pages * ps);
  const groups = doc.groups.filter((g) => g.help.length);
  if (!groups.length) return '';
  const tables = groups.map((g) => {
    const rows = g.help.map(
      (h) =>
        `<tr><td><code>${e(h.strategy)}</code></td><td class="n">${range(h, size)}</td><td class="n">${plural(h.median, 'page')}</td><td class="n">${pct(h.median, g.copied.median)}</td><td class="n">${formatSize(
          doc.workers * h.median * ps,
        )}</td></tr>`,
    );
    return `${groups.length > 1 ? `<h3>${e(g.title)}</h3>` : ''}<table class="help"><thead><tr><th>strategy</th><th>saves per child</th><th>pages</th><th>% of copied</th><th>at ${doc.workers} workers</th></tr></thead><tbody>${rows.join(
      '',
    )}</tbody></table>`;
  });
  const how = doc.measureWith ? `<p class="hint">Predicted from the causes; measure with <code>${e(doc.measureWith)}</code>.</p>` : '';
  return `<section id="help"><h2>What would help</h2>${how}${tables.join('')}</section>`;
}

/** One bar: fill at the median, a whisker from min to max, on a track scaled to `scale`. */
function bar(s: Spread, scale: number, colour: string): string {
  const w = (n: number) => `${((100 * n) / Math.max(scale, 1)).toFixed(2)}%`;
  const whisker = s.min === s.max ? '' : `<span class="whisker" style="left:${w(s.min)};width:${w(s.max - s.min)}"></span>`;
  return `<span class="track"><span class="fill" style="width:${w(s.median)};background:${colour}"></span>${whisker}</span>`;
}

function groupCauses(doc: HtmlDoc, g: ChildGroup): string {
  const ps = doc.pageSize;
  const size = (pages: number) => formatSize(pages * ps);
  if (!g.causes.length) return `<h3>${e(g.title)}</h3><p>${e(g.noBlame ?? 'no copied pages to blame')}</p>`;
  const scale = Math.max(...g.causes.map((c) => c.max));
  const rows = g.causes
    .filter((c) => c.max > 0)
    .map((c) => {
      const row = causeRow(c.cause);
      const fix = causeFix(c.cause, doc.strategySteps);
      return `<div class="bar" data-cause="${e(c.cause)}">${chip(c.cause)}${bar(c, scale, causeColour(c.cause))}<span class="val">${range(c, (n) => String(n))} page${c.median === 1 && c.max === 1 ? '' : 's'} · ${size(c.median)} · ${pct(
        c.median,
        g.copied.median,
      )}</span><span class="what">${e(row?.meaning ?? '')}${fix ? `<br><span class="fix">fix: ${e(fix)}</span>` : ''}</span></div>`;
    });
  const regions = g.regions.length
    ? `<table class="regions"><thead><tr><th>region</th><th>copied pages per child</th><th>what it is</th></tr></thead><tbody>${g.regions
        .map((r) => `<tr><td>${e(r.region)}</td><td class="n">${range(r, (n) => String(n))} · ${size(r.median)}</td><td>${e(REGIONS.find((x) => x.region === r.region)?.meaning ?? '')}</td></tr>`)
        .join('')}</tbody></table>`
    : '';
  const classes = g.topClasses.length
    ? `<h4>Top classes on copied GC heap pages (median child)</h4><table class="regions"><thead><tr><th>class</th><th>pages</th><th>words</th></tr></thead><tbody>${g.topClasses
        .map((c) => `<tr><td>${e(c.class)}</td><td class="n">${c.pages}</td><td class="n">${c.words}</td></tr>`)
        .join('')}</tbody></table>`
    : '';
  const spread = g.pids.length > 1 ? ` — median per child (min–max over ${g.pids.length} children)` : '';
  return `<h3>${e(g.title)}: why ${formatSize(g.copied.median * ps)} was copied${spread}</h3><div class="bars">${rows.join('')}</div>${regions}${classes}`;
}

function causes(doc: HtmlDoc): string {
  if (!doc.groups.length) return '';
  return `<section id="causes"><h2>Causes</h2><p class="hint">One cause per copied page: the one that changed most of its words. Bar: median pages per child; whisker: min–max.</p>${doc.groups
    .map((g) => groupCauses(doc, g))
    .join('')}</section>`;
}

function strategies(doc: HtmlDoc): string {
  const rows = doc.strategies;
  if (!rows?.length) return '';
  const mib = (b: number) => formatSize(Math.round(b));
  const top = Math.max(...rows.map((s) => s.copied.max), 1);
  const save = Math.max(...rows.flatMap((s) => [Math.abs(s.measuredSaved ?? 0), s.predictedSaved ?? 0]), 1);
  const chart = rows.map((s: StrategyRow) => {
    const saved =
      s.measuredSaved === null
        ? ''
        : `<div class="sub"><span class="k">measured saving</span><span class="track thin"><span class="fill" style="width:${((100 * Math.max(s.measuredSaved, 0)) / save).toFixed(
            2,
          )}%;background:#2f5d8a"></span></span><span class="val">${s.measuredSaved >= 0 ? '' : 'costs '}${mib(Math.abs(s.measuredSaved))} per child</span></div>` +
          (s.predictedSaved === null
            ? ''
            : `<div class="sub"><span class="k">predicted saving</span><span class="track thin"><span class="fill pred" style="width:${((100 * s.predictedSaved) / save).toFixed(
                2,
              )}%"></span></span><span class="val">${mib(s.predictedSaved)} per child</span></div>`);
    const total = s.causes.reduce((n, c) => n + c.pages, 0);
    const stack = s.causes
      .filter((c) => c.pages > 0)
      .map((c) => `<span class="seg" title="${e(c.cause)}: ${c.pages} pages" style="width:${((100 * c.pages) / Math.max(total, 1)).toFixed(2)}%;background:${causeColour(c.cause)}"></span>`)
      .join('');
    const chips = s.causes
      .filter((c) => c.pages > 0)
      .slice(0, 4)
      .map((c) => `${chip(c.cause)} ${c.pages}`)
      .join(' ');
    return `<div class="strategy" data-strategy="${e(s.label)}"><div class="bar"><span class="name">${e(s.label)}</span>${bar(s.copied, top, 'repeating-linear-gradient(90deg,#262626 0 3px,#8c8c8c 3px 5px)')}<span class="val">${e(
      s.label,
    )} — ${range(s.copied, mib)} copied per child over ${plural(s.runs, 'run')}; shared ${(100 * s.sharedRatio).toFixed(1)}%, parent RSS ${mib(s.parentRss)}, ${s.seconds.toFixed(
      2,
    )} s</span></div>${saved}<div class="sub"><span class="k">causes (median pages)</span><span class="stack">${stack}</span><span class="val">${chips}</span></div></div>`;
  });
  return `<section id="strategies"><h2>Strategies, best first</h2><p class="hint">Striped bar: median bytes copied per child; whisker: min–max over every child of every run. Saving against <code>none</code>: measured, and predicted from the causes of the none runs.</p>${chart.join(
    '',
  )}</section>`;
}

function maps(doc: HtmlDoc): string {
  const withMap = doc.groups.filter((g) => g.map?.regions.length);
  if (!withMap.length) return '';
  const blocks = withMap.map((g) => {
    const rep = g.map!.pid;
    const of = g.pids.length > 1 ? `, the median of ${g.pids.length} children` : '';
    return `<h3>${e(g.title)}: page map of child ${rep}${of}</h3><div class="map" data-group="${e(g.id)}"></div>`;
  });
  return `<section id="maps"><h2>Page maps</h2><p class="hint">One cell per page, in address order; the axis gives the address of each row's first page, a grey tick marks a gap in the addresses (pages not resident). Hover a cell for its page, cause, owner and writer.</p>
<div class="zoom">zoom <button type="button" data-zoom="-1" aria-label="zoom out">−</button> <span id="zoomlevel">5 px</span> <button type="button" data-zoom="1" aria-label="zoom in">+</button></div>${blocks.join(
    '',
  )}</section>`;
}

function notes(doc: HtmlDoc): string {
  return doc.notes.length ? `<section id="notes"><h2>Notes</h2><ul>${doc.notes.map((n) => `<li>${e(n)}</li>`).join('')}</ul></section>` : '';
}

export function renderSections(doc: HtmlDoc): string {
  const head = `<header><h1>${e(doc.title)}</h1>${doc.facts.map((f) => `<p class="fact">${e(f)}</p>`).join('')}</header>`;
  const colours = `<section id="colours"><h2>Colours</h2>${legend(doc)}</section>`;
  return [head, answer(doc), help(doc), strategies(doc), colours, causes(doc), maps(doc), notes(doc)].join('\n');
}
