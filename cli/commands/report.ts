// cowscope report FILE: renders a saved capture exactly as the command that saved it did, offline.

import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_MAX_CAPTURE_SIZE, loadCapture } from '../../native/capture-file';
import { analyzeRun } from '../../analyzers/run-report';
import { UsageError } from '../errors';
import { sizeLimit } from '../args';
import { runOutput } from '../render/run-output';
import type { Capture } from '../../native/capture';
import { SPECS } from './specs';

interface ReportArgs {
  file: string;
  json: boolean;
  bytes: boolean;
  /** text: all-zero columns and rows and causes of no page too */
  all?: boolean;
  html?: string;
  maxSize?: string;
}

/** --max-size, else $COWSCOPE_MAX_CAPTURE_SIZE, else 2 GiB: the most JSON a capture may hold. */
const maxSizeOf = (args: ReportArgs): number => sizeLimit('--max-size', args.maxSize, 'COWSCOPE_MAX_CAPTURE_SIZE', DEFAULT_MAX_CAPTURE_SIZE, '2GiB or 512MiB');

/** What report prints for a checked capture (file names it in messages). */
export function reportOf(capture: Capture, file: string, o: { json: boolean; bytes: boolean; all?: boolean; html?: string }): string {
  if (!capture.run) throw new UsageError(`${file} holds no run: only captures of cowscope run --save can be reported`);
  return runOutput(capture, analyzeRun(capture), o);
}

export function reportCommand(args: ReportArgs): string {
  return reportOf(loadCapture(args.file, { maxSize: maxSizeOf(args) }), args.file, args);
}

export const reportCommandModule: CommandModule<object, ReportArgs> = {
  ...SPECS['report'],
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'the capture file' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON (as run --json does)' })
      .option('bytes', { type: 'boolean', default: false, describe: 'print sizes in bytes instead of K/M/G' })
      .option('all', { type: 'boolean', default: false, describe: 'show what the tables leave out: all-zero columns and rows, causes of no page' })
      .option('html', { type: 'string', describe: 'also write the self-contained HTML report to this file' })
      .option('max-size', { type: 'string', describe: 'the most JSON the capture may hold uncompressed (default 2GiB, or $COWSCOPE_MAX_CAPTURE_SIZE)' })
      .example('$0 report capture.cow', 'the same tables run printed') as Argv<ReportArgs>,
  handler: (args) => {
    process.stdout.write(reportCommand(args));
  },
};
