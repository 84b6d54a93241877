#!/usr/bin/env node
// cowscope: copy-on-write sharing between a parent process and its forked children, and why it ends.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { inspectCommand } from './commands/inspect';
import { doctorCommand } from './commands/doctor';
import { EXIT_USAGE, UsageError, fail } from './errors';

const argv = hideBin(process.argv);
const debug = argv.includes('--debug');

// Output piped into `head` must not end in a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
});

async function main(): Promise<void> {
  await yargs(argv)
    .scriptName('cowscope')
    .usage('$0 <command> [options]\n\nMeasures copy-on-write sharing between a parent process and its forked children.')
    .command(inspectCommand)
    .command(doctorCommand)
    .demandCommand(1, 'name a command, e.g. `cowscope inspect PID` or `cowscope doctor` (see cowscope --help)')
    .option('debug', { type: 'boolean', default: false, describe: 'print stack traces on errors' })
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .epilogue('Exit codes: 0 ok, 1 a budget was exceeded, 2 usage or measurement error.')
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(`${msg.split('\n')[0]} (see cowscope --help)`);
    })
    .parseAsync();
}

main().catch((e) => fail(e, debug));

export { EXIT_USAGE };
