#!/usr/bin/env node
// cowscope: copy-on-write sharing between a parent process and its forked children, and why it ends.

import yargs, { CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { inspectCommand } from './commands/inspect';
import { doctorCommand } from './commands/doctor';
import { runCommandModule } from './commands/run';
import { reportCommandModule } from './commands/report';
import { compareCommandModule } from './commands/compare';
import { budgetCommandModule } from './commands/budget';
import { initCommandModule } from './commands/init';
import { agentPathCommandModule } from './commands/agent-path';
import { EXIT_USAGE, UsageError, fail } from './errors';

const argv = hideBin(process.argv);
const debug = argv.includes('--debug');

// Output piped into `head` must not end in a stack trace. The program's own output goes to stderr, so
// a closed stderr must not crash cowscope either (it still cleans up; it just cannot say so).
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
});
process.stderr.on('error', () => undefined);

const COMMANDS = [inspectCommand, runCommandModule, compareCommandModule, budgetCommandModule, initCommandModule, reportCommandModule, agentPathCommandModule, doctorCommand];

/** yargs' validation messages, made to say what to type. */
function usageMessage(msg: string): string {
  const command = argv.find((a) => !a.startsWith('-'));
  const known = COMMANDS.some((c) => c.command?.toString().split(' ')[0] === command);
  const help = known ? `cowscope ${command} --help` : 'cowscope --help';
  if (msg.startsWith('Not enough non-option arguments')) return `${command} needs more arguments: see ${help}`;
  if (msg.startsWith('name a command')) return msg;
  return `${msg.split('\n')[0]} (see ${help})`;
}

async function main(): Promise<void> {
  await yargs(argv)
    .scriptName('cowscope')
    .parserConfiguration({ 'populate--': true })
    .usage('$0 <command> [options]\n\nMeasures copy-on-write sharing between a parent process and its forked children.')
    .command(COMMANDS as CommandModule[])
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
      throw new UsageError(usageMessage(msg));
    })
    .parseAsync();
}

main().catch((e) => fail(e, debug));

export { EXIT_USAGE };
