// The HTML report: one self-contained file (no network). Page maps of each child's GC heap and malloc
// regions (a cell per page, coloured by class or by the cause blamed for its copy, with hover details),
// the cause bar chart per child, and, for compare, the strategy chart. After drawing, the page writes
// what it painted into <body data-painted data-legend> so a headless browser can check it.

import type { PageMap } from '../../analyzers/page-map';
import type { CauseCount } from '../../blame/engine';
import { causeMeaning } from '../../blame/catalog';
import { UsageError } from '../errors';
import { writeFileAtomically } from '../../native/files';

export interface HtmlDoc {
  title: string;
  subtitle: string;
  pageSize: number;
  maps: PageMap[];
  /** one section per child (or per strategy in compare): its cause bars and, when maps has its id, its page map */
  blame: { id: string; title: string; copied: number; blame: CauseCount[] }[];
  strategies?: { label: string; median: number; min: number; max: number }[];
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const SCRIPT = String.raw`
const doc = JSON.parse(document.getElementById('data').textContent);
const CLASS = ['none', 'shared', 'copied', 'copied by parent', 'new', 'absent', 'swapped', 'zero'];
const CLASS_COLOR = ['#ffffff', '#d4d4d4', '#e6550d', '#fdae6b', '#6baed6', '#f2f2f2', '#9e9ac8', '#ffffff'];
const causes = [...new Set(doc.maps.flatMap((m) => m.causes).concat(doc.blame.flatMap((b) => b.blame.map((c) => c.cause))))].sort();
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#ff7f0e', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd', '#31a354', '#756bb1', '#e6550d', '#636363'];
const causeColor = (c) => { const i = causes.indexOf(c); return i >= 0 && i < PALETTE.length ? PALETTE[i] : 'hsl(' + ((i * 47) % 360) + ',60%,40%)'; };
const hex = (n) => '0x' + n.toString(16);
const tip = document.getElementById('tip');
const COLS = 128, CELL = 5;
let painted = 0;
for (const m of doc.maps) {
  const host = document.getElementById('map-' + m.pid);
  if (!host) continue;
  for (const g of m.regions) {
    const h = document.createElement('h3');
    h.textContent = 'child ' + m.pid + ' — ' + g.region + ' (' + g.addr.length + ' pages)';
    host.appendChild(h);
    const canvas = document.createElement('canvas');
    const rows = Math.ceil(g.addr.length / COLS);
    canvas.width = COLS * CELL; canvas.height = Math.max(rows, 1) * CELL;
    host.appendChild(canvas);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
    g.addr.forEach((a, i) => {
      const cause = g.cause[i] >= 0 ? m.causes[g.cause[i]] : null;
      ctx.fillStyle = cause ? causeColor(cause) : CLASS_COLOR[g.cls[i]];
      ctx.fillRect((i % COLS) * CELL, Math.floor(i / COLS) * CELL, CELL - 1, CELL - 1);
    });
    canvas.addEventListener('mousemove', (e) => {
      const i = Math.floor(e.offsetY / CELL) * COLS + Math.floor(e.offsetX / CELL);
      if (i >= g.addr.length) { tip.style.display = 'none'; return; }
      const cause = g.cause[i] >= 0 ? m.causes[g.cause[i]] : '';
      tip.textContent = hex(g.addr[i]) + ' — ' + CLASS[g.cls[i]] + (cause ? ' — ' + cause : '');
      tip.style.display = 'block'; tip.style.left = (e.pageX + 12) + 'px'; tip.style.top = (e.pageY + 12) + 'px';
    });
    canvas.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let k = 0; k < px.length; k += 4) if (px[k] !== 255 || px[k + 1] !== 255 || px[k + 2] !== 255) painted++;
  }
}
const legend = document.getElementById('legend');
const item = (color, text) => { const li = document.createElement('li'); const sw = document.createElement('span'); sw.className = 'sw'; sw.style.background = color; li.append(sw, text); legend.appendChild(li); };
[1, 3, 4].forEach((c) => item(CLASS_COLOR[c], CLASS[c]));
item(CLASS_COLOR[2], 'copied (no blame)');
causes.forEach((c) => item(causeColor(c), c));
for (const b of doc.blame) {
  const host = document.getElementById('bars-' + b.id);
  for (const c of b.blame.filter((x) => x.pages > 0)) {
    const row = document.createElement('div'); row.className = 'bar';
    const fill = document.createElement('span'); fill.style.width = (100 * c.pages / Math.max(b.copied, 1)) + '%'; fill.style.background = causeColor(c.cause);
    const label = document.createElement('em'); label.textContent = c.cause + ' — ' + c.pages + ' pages';
    row.title = c.cause; row.append(fill, label); host.appendChild(row);
  }
}
if (doc.strategies) {
  const host = document.getElementById('strategies');
  const top = Math.max(...doc.strategies.map((s) => s.max), 1);
  for (const s of doc.strategies) {
    const row = document.createElement('div'); row.className = 'bar';
    const fill = document.createElement('span'); fill.style.width = (100 * s.median / top) + '%'; fill.style.background = '#3182bd';
    const label = document.createElement('em'); label.textContent = s.label + ' — ' + (s.median / 1048576).toFixed(1) + ' MiB per child (' + (s.min / 1048576).toFixed(1) + '–' + (s.max / 1048576).toFixed(1) + ')';
    row.append(fill, label); host.appendChild(row);
  }
}
document.body.dataset.painted = String(painted);
document.body.dataset.legend = String(legend.children.length);
document.body.dataset.bars = String(document.querySelectorAll('.bar').length);
`;

export function renderHtml(doc: HtmlDoc): string {
  const sections = doc.blame
    .map((b) => {
      const rows = b.blame.filter((x) => x.pages > 0).map((x) => `<li><b>${escape(x.cause)}</b>: ${escape(causeMeaning(x.cause))}</li>`);
      return `<section><h2>${escape(b.title)}</h2><div id="bars-${escape(b.id)}" class="bars"></div><details><summary>what the causes mean</summary><ul>${rows.join('')}</ul></details><div id="map-${escape(b.id)}"></div></section>`;
    })
    .join('\n');
  const strategies = doc.strategies ? '<section><h2>Strategies (median copied per child, best first)</h2><div id="strategies" class="bars"></div></section>' : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(doc.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px} h3{font-size:13px;margin:12px 0 4px;font-weight:600}
canvas{display:block;border:1px solid #ccc;image-rendering:pixelated}
#legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px} #legend li{display:flex;align-items:center;gap:6px}
.sw{display:inline-block;width:12px;height:12px;border:1px solid #999}
.bars{max-width:720px} .bar{position:relative;height:20px;margin:2px 0;background:#f4f4f4} .bar span{position:absolute;left:0;top:0;bottom:0}
.bar em{position:relative;font-style:normal;font-size:12px;padding-left:6px;line-height:20px}
#tip{position:absolute;display:none;background:#222;color:#fff;padding:3px 6px;font-size:12px;border-radius:3px;pointer-events:none}
</style></head>
<body>
<h1>${escape(doc.title)}</h1><div>${escape(doc.subtitle)}</div>
<h2>Legend</h2><ul id="legend"></ul>
${strategies}
${sections}
<div id="tip"></div>
<script type="application/json" id="data">${JSON.stringify(doc).replace(/</g, '\\u003c')}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}

export function writeHtml(file: string, doc: HtmlDoc): void {
  try {
    writeFileAtomically(file, renderHtml(doc));
  } catch (e) {
    throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
