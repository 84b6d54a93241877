// cowscope report FILE: renders a saved capture exactly as the command that saved it did, offline.

import type { Argv, CommandModule } from 'yargs';
import { loadCapture } from '../../native/capture-file';
import { analyzeRun } from '../../analyzers/run-report';
import { UsageError } from '../errors';
import { runOutput } from '../render/run-output';

interface ReportArgs {
  file: string;
  json: boolean;
  bytes: boolean;
  html?: string;
}

export function reportCommand(args: ReportArgs): string {
  const capture = loadCapture(args.file);
  if (!capture.run) throw new UsageError(`${args.file} holds no run: only captures of cowscope run --save can be reported`);
  return runOutput(capture, analyzeRun(capture), args);
}

export const reportCommandModule: CommandModule<object, ReportArgs> = {
  command: 'report <file>',
  describe: 'Render a capture saved with `cowscope run --save FILE`, on any machine where cowscope is installed',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'the capture file' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON (as run --json does)' })
      .option('bytes', { type: 'boolean', default: false, describe: 'print sizes in bytes instead of K/M/G' })
      .option('html', { type: 'string', describe: 'also write the self-contained HTML report to this file' })
      .example('$0 report capture.cow', 'the same tables run printed') as Argv<ReportArgs>,
  handler: (args) => {
    process.stdout.write(reportCommand(args));
  },
};
