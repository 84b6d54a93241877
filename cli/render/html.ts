// The HTML report: one self-contained file (no network), in the order of the text report: the answer
// (how much each child stopped sharing), what would help, the causes, then page maps. Children alike
// (same parent) are folded into one group: min–median–max over them and the page map of the median
// child. Colours come from the cause catalog (blame/colours.ts), one hue per family, so a cause has
// the same colour in every report; every label on a colour is black or white by contrast.
//
// Sections are plain HTML written here (cli/render/html/sections.ts); only the page maps are drawn by
// the page's script (cli/render/html/script.ts), from the JSON it carries. After drawing, the page writes
// what it painted into <body data-painted data-legend data-bars> so a headless browser can check it.

import type { PageMap } from '../../analyzers/page-map';
import { UsageError } from '../errors';
import { writeFileAtomically } from '../../native/files';
import { escapeHtml, renderSections, mapData } from './html/sections';
import { SCRIPT } from './html/script';
import { STYLE } from './html/style';

/** min, median and max over the children of a group (or the runs of a strategy) */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

export interface ProcessRow {
  /** one pid, or a folded group of children ("3 children") */
  label: string;
  role: string;
  command?: string;
  /** bytes; for a folded row, over its processes */
  rss: Spread;
  pss: Spread;
  uss: Spread;
}

/** Children of one parent, folded. Sizes in pages unless named bytes. */
export interface ChildGroup {
  id: string;
  title: string;
  pids: number[];
  copied: Spread;
  copiedByParent: Spread | null;
  shared: Spread;
  new: Spread;
  /** primary cause pages per child, every cause with pages in some child, most first */
  causes: (Spread & { cause: string })[];
  /** copied pages per child by region */
  regions: (Spread & { region: string })[];
  /** strategy steps and the pages each would save per child */
  help: (Spread & { strategy: string })[];
  topClasses: { class: string; pages: number; words: number }[];
  /** the page map of the median child */
  map?: PageMap;
  /** why this group has no causes (inspect without an agent) */
  noBlame?: string;
}

export interface StrategyRow {
  label: string;
  runs: number;
  /** bytes copied per child (copied + copied by parent) over every child of every run */
  copied: Spread;
  /** bytes per child less than none: measured, and predicted by none's blame (null without none) */
  measuredSaved: number | null;
  predictedSaved: number | null;
  sharedRatio: number;
  parentRss: number;
  seconds: number;
  /** median pages per child and cause */
  causes: { cause: string; pages: number }[];
}

export interface HtmlDoc {
  title: string;
  facts: string[];
  pageSize: number;
  /** the worker count savings are multiplied to */
  workers: number;
  processes: ProcessRow[];
  groups: ChildGroup[];
  strategies?: StrategyRow[];
  verdict?: string;
  /** how to measure what blame predicts ("cowscope compare --strategies none,…") */
  measureWith?: string;
  /** the strategy steps of the runtime measured (undefined: every step, Ruby's): a cause's fix names only
   *  those */
  strategySteps?: readonly string[];
  notes: string[];
}

export function renderHtml(doc: HtmlDoc): string {
  const data = JSON.stringify(mapData(doc)).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.title)}</title>
<style>${STYLE}</style></head>
<body>
${renderSections(doc)}
<div id="tip" role="tooltip"></div>
<script type="application/json" id="data">${data}</script>
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
