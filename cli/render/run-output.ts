// What `run` prints (and writes with --html) for a run; `report` prints the same for a saved capture,
// so both go through this one function.

import type { Capture } from '../../native/capture';
import type { RunAnalysis } from '../../analyzers/run-report';
import { writeHtml } from './html';
import { runHtmlDoc } from './html-docs';
import { renderRunText } from './run-text';

export function runOutput(capture: Capture, analysis: RunAnalysis, o: { json: boolean; bytes: boolean; html?: string; all?: boolean }): string {
  if (o.html) writeHtml(o.html, runHtmlDoc(capture, analysis));
  return o.json ? `${JSON.stringify(analysis.report, null, 2)}\n` : renderRunText(analysis.report, o);
}
