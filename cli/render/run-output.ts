// What `run` prints (and writes with --html) for a run; `report` prints the same for a saved capture,
// so both go through this one function.

import type { Capture } from '../../native/capture';
import type { RunReport } from '../../analyzers/run-report';
import { writeHtml } from './html';
import { runHtmlDoc } from './html-docs';
import { renderRunText } from './run-text';

export function runOutput(capture: Capture, report: RunReport, o: { json: boolean; bytes: boolean; html?: string }): string {
  if (o.html) writeHtml(o.html, runHtmlDoc(capture, report));
  return o.json ? `${JSON.stringify(report, null, 2)}\n` : renderRunText(report, o);
}
