// The page's own script: draws each page map on a canvas (a cell per page, coloured by the cause blamed
// for its copy, or by its class), with an address axis, zoom buttons and a hover naming the page's
// cause, owner and writer. Plain browser JavaScript in a string: the report carries no other files.

export const SCRIPT = String.raw`
const doc = JSON.parse(document.getElementById('data').textContent);
const CLASS = ['none', 'shared', 'copied', 'copied by parent', 'new', 'absent', 'swapped', 'zero'];
const CLASS_COLOUR = Object.fromEntries(Object.entries(doc.classNames).map(([code, name]) => [code, doc.classColours[name]]));
const hex = (n) => '0x' + n.toString(16);
const tip = document.getElementById('tip');
const ZOOMS = [2, 3, 5, 8, 12, 16];
let zoom = 2;
const cellSize = () => ZOOMS[zoom];
const sizeText = (b) => b >= 1048576 ? (b / 1048576).toFixed(1) + 'M' : (b / 1024).toFixed(0) + 'K';
// pages per row: 128, so a row is 512K with 4K pages
const COLS = 128;
let painted = 0;

function line(text, strong) {
  const d = document.createElement('div');
  if (strong) { const b = document.createElement('b'); b.textContent = text; d.appendChild(b); } else d.textContent = text;
  return d;
}

function drawRegion(box, m, g) {
  box.textContent = '';
  const cell = cellSize();
  const rows = Math.max(Math.ceil(g.addr.length / COLS), 1);
  const counts = {};
  g.cls.forEach((c) => { counts[CLASS[c]] = (counts[CLASS[c]] || 0) + 1; });
  const head = document.createElement('div'); head.className = 'rhead';
  head.textContent = g.region + ': ' + g.addr.length + ' pages (' + sizeText(g.addr.length * doc.pageSize) + '), ' + hex(g.addr[0]) + ' – ' + hex(g.addr[g.addr.length - 1] + doc.pageSize) +
    '; ' + Object.entries(counts).map(([k, v]) => v + ' ' + k).join(', ');
  box.appendChild(head);
  const cols = document.createElement('div'); cols.className = 'cols'; cols.style.width = (COLS * cell) + 'px';
  const step = cell >= 8 ? 16 : 32;
  for (let c = 0; c < COLS; c += step) { const s = document.createElement('span'); s.style.left = (c * cell) + 'px'; s.textContent = '+' + sizeText(c * doc.pageSize); cols.appendChild(s); }
  box.appendChild(cols);
  const plot = document.createElement('div'); plot.className = 'plot';
  const axis = document.createElement('div'); axis.className = 'axis'; axis.style.height = Math.max(rows * cell + 2, 12) + 'px';
  const every = Math.max(1, Math.ceil(12 / cell));
  for (let r = 0; r < rows; r += every) { const s = document.createElement('span'); s.style.top = (r * cell + 1 + Math.max(0, (cell - 10) / 2)) + 'px'; s.textContent = hex(g.addr[r * COLS]); axis.appendChild(s); }
  const canvas = document.createElement('canvas');
  canvas.width = COLS * cell; canvas.height = rows * cell;
  canvas.dataset.pid = String(m.pid); canvas.dataset.region = g.region; canvas.dataset.cols = String(COLS); canvas.dataset.cell = String(cell);
  plot.append(axis, canvas);
  box.appendChild(plot);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
  const gap = cell >= 3 ? 1 : 0;
  g.addr.forEach((a, i) => {
    const cause = g.cause[i] >= 0 ? m.causes[g.cause[i]] : null;
    ctx.fillStyle = cause ? doc.causes[cause].colour : (CLASS_COLOUR[g.cls[i]] || '#ffffff');
    const x = (i % COLS) * cell, y = Math.floor(i / COLS) * cell;
    ctx.fillRect(x, y, cell - gap, cell - gap);
    if (i > 0 && a !== g.addr[i - 1] + doc.pageSize) { ctx.fillStyle = '#8c8c8c'; ctx.fillRect(x, y, 1, cell); }
  });
  canvas.addEventListener('mousemove', (e) => {
    const i = Math.floor(e.offsetY / cell) * COLS + Math.floor(e.offsetX / cell);
    if (e.offsetX >= COLS * cell || i >= g.addr.length) { tip.style.display = 'none'; return; }
    tip.textContent = '';
    tip.appendChild(line(hex(g.addr[i]) + ' — ' + g.region + ' page ' + (i + 1) + ' of ' + g.addr.length + ', child ' + m.pid, true));
    tip.appendChild(line(CLASS[g.cls[i]]));
    const cause = g.cause[i] >= 0 ? m.causes[g.cause[i]] : '';
    if (cause) tip.appendChild(line('cause: ' + cause));
    if (g.owner[i] >= 0) tip.appendChild(line('owner: ' + m.owners[g.owner[i]]));
    if (g.writer && g.writer[i] >= 0) tip.appendChild(line('first writer: ' + m.writers[g.writer[i]]));
    if (cause && doc.causes[cause].writer) tip.appendChild(line('what writes it: ' + doc.causes[cause].writer));
    tip.style.display = 'block'; tip.style.left = (e.pageX + 14) + 'px'; tip.style.top = (e.pageY + 14) + 'px';
  });
  canvas.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  return ctx;
}

function drawAll() {
  painted = 0;
  for (const m of doc.maps) {
    const host = document.querySelector('.map[data-group="' + CSS.escape(m.group) + '"]');
    if (!host) continue;
    host.textContent = '';
    for (const g of m.regions) {
      const box = document.createElement('div'); box.className = 'region'; host.appendChild(box);
      const ctx = drawRegion(box, m, g);
      const px = ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height).data;
      for (let k = 0; k < px.length; k += 4) if (px[k] !== 255 || px[k + 1] !== 255 || px[k + 2] !== 255) painted++;
    }
  }
  const level = document.getElementById('zoomlevel');
  if (level) level.textContent = cellSize() + ' px';
  document.body.dataset.painted = String(painted);
}

for (const b of document.querySelectorAll('button[data-zoom]'))
  b.addEventListener('click', () => { zoom = Math.min(ZOOMS.length - 1, Math.max(0, zoom + Number(b.dataset.zoom))); drawAll(); });
drawAll();
document.body.dataset.legend = String(document.querySelectorAll('#legend li[data-cause]').length);
document.body.dataset.bars = String(document.querySelectorAll('.bar').length);
`;
