// The colour of every cause, beside the catalog: one hue per family (at most ten, so a reader tells the
// families apart at a glance) and, within a family, shades of that hue. A cause's colour depends only on
// the catalog, never on which causes a report holds, so a cause looks the same in every report.
//
// Shades: the k-th cause of a family (catalog order) takes lightness and a small hue shift from the
// golden-ratio sequence frac(k·φ) (and a hue shift of at most 8 degrees), which spreads any number of shades over the range, so causes next to
// each other in the catalog (often seen together) differ most.

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
  unknown: { hue: 0, sat: 0 },
};

// Lightness range of cause shades: darker than the page-class colours below (all lighter than 75%).
const LIGHT_MIN = 26;
const LIGHT_MAX = 62;
const PHI = 0.6180339887;

/** Page classes drawn in page maps (not causes): light, or near-black for copies nobody blamed. */
export const CLASS_COLOURS = {
  shared: '#e6e6e6',
  'copied by parent': '#f7b6d2',
  new: '#fff2b3',
  swapped: '#c9d3ff',
  'not resident (absent, zero page)': '#ffffff',
  'copied (no blame)': '#333333',
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

const COLOURS = new Map<string, string>();
{
  const seen = new Map<Family, number>();
  for (const c of CAUSES) {
    const k = seen.get(c.family) ?? 0;
    seen.set(c.family, k + 1);
    const { hue, sat } = FAMILY_HUES[c.family];
    const t = (k * PHI) % 1;
    const shift = ((k * PHI * PHI) % 1) * 16 - 8;
    COLOURS.set(c.id, hslToHex((hue + (sat ? shift : 0) + 360) % 360, sat, LIGHT_MIN + t * (LIGHT_MAX - LIGHT_MIN)));
  }
}

/** The colour of a cause (#rrggbb); a cause not in the catalog is drawn as unknown. */
export function causeColour(id: string): string {
  return COLOURS.get(id) ?? COLOURS.get('unknown')!;
}
