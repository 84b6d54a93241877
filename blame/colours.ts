// The colour of every cause, beside the catalog: one hue per family (at most ten, so a reader tells the
// families apart at a glance) and, within a family, shades of that hue. A cause's colour depends only on
// the catalog, never on which causes a report holds, so a cause looks the same in every report.
//
// Shades: candidates around the family's hue (lightness 25–64%, three saturations, hue ±12°); the
// family's first cause (catalog order) takes the family's base colour, each next cause the candidate
// farthest (CIE76 ΔE) from the shades taken before it. Neighbours in the catalog, often seen together,
// thus differ most, and even the eighteen mutation shades stay at least ΔE 12 apart.

import { CAUSES, Family } from './catalog';

/** Hue (degrees) and saturation (%) of each family; unknown is grey. */
export const FAMILY_HUES: Record<Family, { hue: number; sat: number }> = {
  gc: { hue: 215, sat: 75 },
  alloc: { hue: 30, sat: 95 },
  icache: { hue: 125, sat: 55 },
  object: { hue: 265, sat: 55 },
  mutation: { hue: 358, sat: 78 },
  malloc: { hue: 315, sat: 60 },
  vm: { hue: 180, sat: 70 },
  refcount: { hue: 55, sat: 85 },
  unknown: { hue: 0, sat: 0 },
};

// Candidate shades: darker than the page-class colours below (all lighter than 75%, or black).
const LIGHTNESS = Array.from({ length: 13 }, (_, i) => 32 + 3 * i);
const SATURATION = [1, 0.75, 0.55];
const HUE_SHIFT = [0, -12, 12];
const BASE_LIGHTNESS = 45;

/** Page classes drawn in page maps (not causes): light, or black for copies nobody blamed. */
export const CLASS_COLOURS = {
  shared: '#e6e6e6',
  'copied by parent': '#f7b6d2',
  new: '#fff2b3',
  swapped: '#c9d3ff',
  'not resident (absent, zero page)': '#ffffff',
  'copied (no blame)': '#000000',
} as const;

function hslToHex(h: number, s: number, l: number): string {
  const a = (s / 100) * Math.min(l / 100, 1 - l / 100);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const c = l / 100 - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(255 * c)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/** CIE L*a*b* of #rrggbb (D65), for ΔE between shades. */
function lab(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  const lin = (v: number) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const [r, g, b] = [lin((n >> 16) & 255), lin((n >> 8) & 255), lin(n & 255)];
  const t = (v: number) => (v > 0.008856 ? Math.cbrt(v) : 7.787 * v + 16 / 116);
  const [x, y, z] = [t((r * 0.4124 + g * 0.3576 + b * 0.1805) / 0.95047), t(r * 0.2126 + g * 0.7152 + b * 0.0722), t((r * 0.0193 + g * 0.1192 + b * 0.9505) / 1.08883)];
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}
const deltaE = (p: number[], q: number[]) => Math.hypot(2 * (p[0] - q[0]), p[1] - q[1], p[2] - q[2]);

/** The shades of one family, as many as it has causes, each farthest from those before it. */
function shades(family: Family, n: number): string[] {
  const { hue, sat } = FAMILY_HUES[family];
  const candidates: { hex: string; lab: number[] }[] = [];
  for (const dh of sat ? HUE_SHIFT : [0]) for (const s of sat ? SATURATION : [1]) for (const l of LIGHTNESS) {
    const hex = hslToHex((hue + dh + 360) % 360, sat * s, l);
    if (!candidates.some((c) => c.hex === hex)) candidates.push({ hex, lab: lab(hex) });
  }
  const base = lab(hslToHex(hue, sat, BASE_LIGHTNESS));
  const taken = [candidates.reduce((a, b) => (deltaE(b.lab, base) < deltaE(a.lab, base) ? b : a))];
  while (taken.length < n) {
    let best = candidates[0];
    let far = -1;
    for (const c of candidates) {
      const d = Math.min(...taken.map((t) => deltaE(t.lab, c.lab)));
      if (d > far) [best, far] = [c, d];
    }
    taken.push(best);
  }
  return taken.map((t) => t.hex);
}

const COLOURS = new Map<string, string>();
for (const family of Object.keys(FAMILY_HUES) as Family[]) {
  const members = CAUSES.filter((c) => c.family === family);
  shades(family, members.length).forEach((hex, k) => COLOURS.set(members[k].id, hex));
}

/** The colour of a cause (#rrggbb); a cause not in the catalog is drawn as unknown. */
export function causeColour(id: string): string {
  return COLOURS.get(id) ?? COLOURS.get('unknown')!;
}
