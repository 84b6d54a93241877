// What each command puts in its HTML report (cli/render/html.ts draws it).

import type { Capture } from '../../native/capture';
import type { CompareReport } from '../../analyzers/compare';
import type { InspectReport } from '../../analyzers/inspect-report';
import { PageMap, pageMap } from '../../analyzers/page-map';
import type { ChildBlame } from '../../blame/engine';
import type { RunAnalysis } from '../../analyzers/run-report';
import type { HtmlDoc } from './html';

function special(capture: Capture) {
  return capture.heapMap ? { region: 'ruby-heap' as const, starts: capture.heapMap.bodies, size: capture.heapMap.heapPageSize } : undefined;
}

export function runHtmlDoc(capture: Capture, { report, classes, blames }: RunAnalysis): HtmlDoc {
  const maps: PageMap[] = report.children.map((c) =>
    pageMap(capture.processes.find((p) => p.pid === c.pid)!, report.pageSize, classes.get(c.pid)!, special(capture), blames.find((b) => b.pid === c.pid)?.perPage),
  );
  return {
    title: `cowscope run: ${report.runtime.name} ${report.runtime.version}, strategy ${report.strategy.label}`,
    subtitle: `${report.children.length} child${report.children.length === 1 ? '' : 'ren'} against the fork-time image; tier ${report.tier}; workload: ${report.workload}`,
    pageSize: report.pageSize,
    maps,
    blame: report.children.map((c) => ({ id: String(c.pid), title: `Child ${c.pid}: ${c.pages.copied} copied pages`, copied: c.pages.copied, blame: c.blame })),
  };
}

export function inspectHtmlDoc(capture: Capture, report: InspectReport, classes: Map<number, Uint8Array>, blames: Map<number, ChildBlame>): HtmlDoc {
  const maps = report.sharing.map((s) =>
    pageMap(capture.processes.find((p) => p.pid === s.pid)!, report.pageSize, classes.get(s.pid)!, special(capture), blames.get(s.pid)?.perPage),
  );
  return {
    title: `cowscope inspect: ${report.processes.length} processes`,
    subtitle: `each child against its parent; tier ${report.tier}${report.liveMap ? '; blame against the live master' : ''}`,
    pageSize: report.pageSize,
    maps,
    blame: report.sharing.map((s) => ({ id: String(s.pid), title: `Child ${s.pid}: ${s.pages.copied} copied pages`, copied: s.pages.copied, blame: s.blame ?? [] })),
  };
}

export function compareHtmlDoc(report: CompareReport): HtmlDoc {
  return {
    title: `cowscope compare: ${report.runtime.name} ${report.runtime.version}`,
    subtitle: report.verdict,
    pageSize: report.pageSize,
    maps: [],
    blame: report.strategies.map((s, i) => ({
      id: `s${i}`,
      title: `${s.label}: median causes per child`,
      copied: s.copiedPerChild.median / report.pageSize,
      blame: s.blame.map((b) => ({ cause: b.cause, pages: b.pages, words: 0 })),
    })),
    strategies: report.strategies.map((s) => ({ label: s.label, ...s.copiedPerChild })),
  };
}
