#!/usr/bin/env node
// cowscope: copy-on-write sharing between a parent process and its forked children, and why it ends.
//
// Start-up is part of every measurement (`cowscope inspect` is compared with `smem`), so this file loads
// only what the command at hand needs: yargs knows each command by its name and description
// (commands/specs.ts) and loads the command's module when it runs; the plain `inspect PID [--json]`
// form skips yargs altogether (docs/architecture.md, "Start-up").

import fs from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { EXIT_USAGE, UsageError, fail, outputLost } from './errors';
import { CommandName, OUTPUT_FILES, SPECS } from './commands/specs';
import { didYouMean } from './suggest';

// hideBin(process.argv) for plain node (no Electron): the words after the script.
// bin/cowscope started node without NODE_EXTRA_CA_CERTS (see there): the programs cowscope starts get
// the user's environment back.
if (process.env.COWSCOPE_NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.COWSCOPE_NODE_EXTRA_CA_CERTS;
  delete process.env.COWSCOPE_NODE_EXTRA_CA_CERTS;
}

const argv = process.argv.slice(2);
const debug = argv.includes('--debug');

// Output piped into `head` must not end in a stack trace. The program's own output goes to stderr, so
// a closed stderr must not crash cowscope either (it still cleans up; it just cannot say so). The streams
// are made when first used (making them loads net or tty: ~8 ms of start-up), so the guards go on when
// a command or an error needs them; the plain `inspect` writes its one output with fs.writeSync.
let guarded = false;
function guardStreams(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    outputLost(e);
  });
  process.stderr.on('error', () => undefined);
}

/** All of text to fd 1, without a stream: a closed pipe ends the program quietly (exit 0), as the
 *  stream's EPIPE guard does; a non-blocking pipe that is full is waited on. */
function writeStdout(text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) {
    try {
      off += fs.writeSync(1, buf, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') process.exit(0);
      if (code !== 'EAGAIN') outputLost(e as NodeJS.ErrnoException);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/* eslint-disable @typescript-eslint/no-var-requires */
// The order of `cowscope --help`.
const LOADERS: Record<CommandName, () => CommandModule<object, never>> = {
  inspect: () => require('./commands/inspect').inspectCommand,
  run: () => require('./commands/run').runCommandModule,
  compare: () => require('./commands/compare').compareCommandModule,
  budget: () => require('./commands/budget').budgetCommandModule,
  init: () => require('./commands/init').initCommandModule,
  report: () => require('./commands/report').reportCommandModule,
  'agent-path': () => require('./commands/agent-path').agentPathCommandModule,
  doctor: () => require('./commands/doctor').doctorCommand,
};
/* eslint-enable @typescript-eslint/no-var-requires */

/** A yargs command that loads its module when yargs picks it (builder) or runs it (handler). */
function lazyCommand(name: CommandName): CommandModule {
  const load = LOADERS[name] as () => CommandModule;
  return {
    ...SPECS[name],
    builder: (y: Argv) => {
      const { builder } = load();
      if (typeof builder === 'function') return builder(y) as Argv;
      return builder ? y.options(builder) : y;
    },
    handler: (args) => load().handler(args),
  };
}

const COMMANDS = (Object.keys(LOADERS) as CommandName[]).map(lazyCommand);

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The command named by the first word typed, if it is one. */
const commandNamed = (command: string | undefined) => COMMANDS.find((c) => c.command?.toString().split(' ')[0] === command);

/** A command's usage line as its spec declares it ('inspect <pid>'). */
const usageOf = (command: string | undefined): string => commandNamed(command)?.command?.toString() ?? `${command}`;

/** The arguments a command requires (its <name> words: '<pid>'). */
const requiredOf = (command: string | undefined): string[] => usageOf(command).match(/<[^>]+>/g) ?? [];

/** The command's help, named in every usage message. */
function helpFor(command: string | undefined): string {
  return commandNamed(command) ? `cowscope ${command} --help` : 'cowscope --help';
}

/** An option as the user wrote it (`--max-heap-map`, `--maxHeapMap`, `-h`), from yargs' name for it. */
function typed(name: string): string {
  const forms = name.length === 1 ? [`-${name}`] : [`--${kebab(name)}`, `--${name}`];
  return forms.find((f) => argv.some((a) => a === f || a.startsWith(`${f}=`))) ?? forms[0];
}

/** The word the user gave an option (`--watch abc` or `--watch=abc`), or undefined. */
function typedValue(name: string): string | undefined {
  const flag = typed(name);
  const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return undefined;
  return argv[i] === flag ? argv[i + 1] : argv[i].slice(flag.length + 1);
}

/** yargs lists an unknown option under both spellings (bogus-flag, bogusFlag): each once, as typed;
 *  words that are not options are quoted. */
function unknownWords(list: string): string[] {
  const words = list.split(', ');
  const once = words.filter((w) => kebab(w) === w || !words.includes(kebab(w)));
  return [...new Set(once)].map((w) => (argv.some((a) => a.startsWith('-') && a.replace(/^-+/, '').split('=')[0] === w) ? typed(w) : JSON.stringify(w)));
}

/** The commands that start a program, whose own options follow `--`. */
const PROGRAM_COMMANDS = new Set(['run', 'compare']);

/** Does the option (as typed) follow a word that names a file (the program, to run and compare)? */
function afterProgram(flag: string): boolean {
  const at = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  return argv.slice(1, at).some((a) => {
    if (a.startsWith('-')) return false;
    try {
      return fs.statSync(a).isFile();
    } catch {
      return false;
    }
  });
}

/** yargs' validation messages, made to say what to type: ordered rules, the first that matches. */
const USAGE_RULES: [RegExp, (m: RegExpExecArray, command: string | undefined, options: readonly string[]) => string][] = [
  [/^Not enough non-option arguments/, (_, command) => `${command} needs ${requiredOf(command).join(' ') || 'more arguments'}: cowscope ${usageOf(command)}`],
  [/^Unknown arguments?: (.*)$/, (m, command, options) => {
    const words = unknownWords(m[1]);
    // each mistyped option with the command's option nearest to it
    const flagged = (w: string) => `${w}${didYouMean(w.replace(/^-+/, '').split('=')[0], options, (o) => `--${o}`)}`;
    const flags = words.filter((w) => w.startsWith('-'));
    // run and compare start a program: an option typed after it is the program's own, and goes after --
    // (a word it takes for the program may be an option's value: said as a question)
    const forProgram = PROGRAM_COMMANDS.has(command ?? '') && flags.length && afterProgram(flags[0]) ? ` (if ${flags.length > 1 ? 'they are' : 'it is'} the program's own, put ${flags.length > 1 ? 'them' : 'it'} after --: cowscope ${command} [options] -- PROGRAM ${flags.join(' ')})` : '';
    return flags.length ? `unknown option${flags.length > 1 ? 's' : ''} ${flags.map(flagged).join(', ')}${forProgram}` : `unexpected argument${words.length > 1 ? 's' : ''} ${words.join(', ')}`;
  }],
  [/^Invalid values:\n\s*Argument: ([\w-]+), Given: (.*), Choices: (.*)/, (m) => `${typed(m[1])} ${m[2]} is not one of ${m[3].replace(/"/g, '')}`],
  [/^Not enough arguments following: ([\w-]+)/, (m) => `${typed(m[1])} needs a value`],
  [/^Missing required argument: ([\w-]+)/, (m) => `${typed(m[1])} is required`],
];

/** yargs' parser as it stands while it parses a command: the command's options and the global ones
 *  (getOptions is public in yargs 17, missing from its types). */
type OptionsOf = { getOptions?: () => { key?: Record<string, unknown> } };

/** The long options yargs knows for the command it is parsing, kebab-case (as typed). */
function optionNames(parser: OptionsOf): string[] {
  return [...new Set(Object.keys(parser.getOptions?.().key ?? {}).filter((k) => k.length > 1).map(kebab))];
}

function usageMessage(msg: string, options: readonly string[]): string {
  if (msg.startsWith('name a command')) return msg; // ours (demandCommand): it names the fix already
  const command = argv.find((a) => !a.startsWith('-'));
  const help = helpFor(command);
  for (const [pattern, say] of USAGE_RULES) {
    const m = pattern.exec(msg);
    if (m) return `${say(m, command, options)}: see ${help}`;
  }
  return `${msg.split('\n')[0]} (see ${help})`;
}

/** The words yargs always gives as arrays: the positionals and what follows `--`. */
const POSITIONAL_KEYS = new Set(['_', '--', '$0']);

/** Two checks of the values yargs made: an option given twice (yargs collects the repeats of an option
 *  not declared `array` into an array, which the checks after would print as "2,3"), and a number option
 *  given a word (`--watch abc`, which yargs turns into NaN): say which option and what it got. The
 *  options that take several values come from yargs' own table (`array`), as the commands declare them. */
function checkOptionValues(args: Record<string, unknown>, options?: { array?: string[] }): true {
  const repeatable = new Set([...POSITIONAL_KEYS, ...(options?.array ?? [])]);
  for (const [name, value] of Object.entries(args))
    if (Array.isArray(value) && !repeatable.has(name) && !/[A-Z]/.test(name))
      throw new UsageError(`${typed(name)} is given ${value.length} times (${value.map((v) => JSON.stringify(v)).join(', ')}): give it once`);
  for (const [name, value] of Object.entries(args)) {
    if (typeof value !== 'number' || /[A-Z]/.test(name)) continue;
    const given = typedValue(name);
    // `--children=` reaches the command as 0: say that no number came, not that 0 is out of range
    if (given === '') throw new UsageError(`${typed(name)} needs a value: see ${helpFor(argv.find((a) => !a.startsWith('-')))}`);
    if (!Number.isNaN(value)) continue;
    throw new UsageError(`${typed(name)} takes a number, not ${given === undefined ? 'nothing' : JSON.stringify(given)}: see ${helpFor(argv.find((a) => !a.startsWith('-')))}`);
  }
  return true;
}

/** Checks the files the command writes (OUTPUT_FILES: --save, --html, --output, --junit, init's
 *  --config) before anything runs, each refused in one line that names the fix. */
function outputFilesWritable(args: Record<string, unknown>): true {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { sameFile, whyNotWritable } = require('./writable') as typeof import('./writable');
  const command = String((args._ as unknown[] | undefined)?.[0] ?? '');
  const outputs: Record<string, string> = Object.hasOwn(OUTPUT_FILES, command) ? OUTPUT_FILES[command as CommandName] : {};
  const named: [string, string][] = [];
  for (const [name, example] of Object.entries(outputs)) {
    for (const file of ([] as unknown[]).concat(args[name] ?? [])) {
      if (typeof file !== 'string') continue;
      if (!file) throw new UsageError(`--${name} needs a file name (e.g. --${name} ${example})`);
      for (const [other, f] of named) if (sameFile(f, file)) throw new UsageError(`--${other} and --${name} both name ${file}: give each output its own file`);
      named.push([name, file]);
      const why = whyNotWritable(file);
      if (!why) continue;
      const fix = {
        'no folder': ': create it, or name a file in a folder that exists',
        'a folder': `: name a file (e.g. ${path.join(file, example)})`,
        'not a file': ': name a regular file (it is replaced: written beside it, then renamed into place)',
        'not writable': ': name a file in a folder you can write',
        'planted link': ': name the folder it leads to, if you trust it',
      }[why.problem];
      throw new UsageError(`cannot write ${file} (--${name}): ${why.text}${fix}`);
    }
  }
  // An output that is also an input (the capture report reads, the program run runs): the command line's
  // words naming an existing file, counted against the outputs' own values.
  for (const [name, file] of named) {
    if (!fs.existsSync(file)) continue;
    const words = argv.flatMap((w) => (w.startsWith('--') && w.includes('=') ? [w.slice(w.indexOf('=') + 1)] : [w]));
    const mentions = words.filter((w) => w !== '' && fs.existsSync(w) && sameFile(w, file)).length;
    const asOutput = named.filter(([, f]) => sameFile(f, file)).length;
    if (mentions > asOutput) throw new UsageError(`--${name} names ${file}, which this command also reads: write the output to another file`);
  }
  return true;
}

const QUICK_FLAGS = new Set(['--json', '--bytes', '--mappings', '--debug']);

/** `inspect PID` with only --json, --bytes, --mappings, --debug: the arguments yargs would give the
 *  handler, or undefined for anything else (yargs parses that, with its help and messages). */
function quickInspectArgs(words: string[]): { pid: string; json: boolean; bytes: boolean; mappings: boolean; debug: boolean } | undefined {
  if (words[0] !== 'inspect' || !/^\d+$/.test(words[1] ?? '')) return undefined;
  const flags = words.slice(2);
  if (!flags.every((f) => QUICK_FLAGS.has(f))) return undefined;
  return { pid: words[1], json: flags.includes('--json'), bytes: flags.includes('--bytes'), mappings: flags.includes('--mappings'), debug: flags.includes('--debug') };
}

async function main(): Promise<void> {
  const quick = quickInspectArgs(argv);
  if (quick) {
    if (quick.debug) guardStreams(); // --debug writes timings to stderr
    // The family's long reads go on the thread pool first; the analyzers load while they run. The
    // children's pages are classified as they are read (the pairs: analyzers/classify).
    /* eslint-disable @typescript-eslint/no-var-requires */
    const { pairsToClassify } = require('../analyzers/classify') as typeof import('../analyzers/classify');
    (require('../native/capture') as typeof import('../native/capture')).readFamilyAhead(Number(quick.pid), pairsToClassify);
    /* eslint-enable @typescript-eslint/no-var-requires */
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { inspect } = require('./commands/inspect') as typeof import('./commands/inspect');
    writeStdout(await inspect(quick));
    // Nothing is left to run: exit now rather than when the event loop drains, which tears the
    // environment and V8's heap down first (~3 ms of the command, held to smem's time).
    process.exit(process.exitCode ?? 0);
  }
  guardStreams();
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const yargs = require('yargs') as typeof import('yargs');
  const parser = yargs(argv);
  await parser
    .scriptName('cowscope')
    // Not greedy: `--request 'GET /' app.rb` is one request and the program (repeat --request for more).
    .parserConfiguration({ 'populate--': true, 'greedy-arrays': false })
    .usage('$0 <command> [options]\n\nMeasures copy-on-write sharing between a parent process and its forked children.')
    .command(COMMANDS)
    .demandCommand(1, 'name a command, e.g. `cowscope inspect PID` or `cowscope doctor` (see cowscope --help)')
    .option('debug', { type: 'boolean', default: false, describe: 'print stack traces on errors' })
    .check(checkOptionValues, true)
    .check(outputFilesWritable, true)
    .strict()
    // yargs would exit as it prints --help or --version, before a failed write of it (a full disk:
    // ENOSPC) reaches guardStreams: it returns instead, and the output's error decides the exit status
    .exitProcess(false)
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .epilogue('Exit codes: 0 ok, 1 a budget was exceeded, 2 usage or measurement error.')
    .fail((msg, err) => {
      // yargs' own parse errors (YError: an option with requiresArg given no value) are usage errors too
      if (err && err.name !== 'YError') throw err;
      throw new UsageError(usageMessage(msg ?? err?.message ?? '', optionNames(parser as unknown as OptionsOf)));
    })
    .parseAsync();
}

// Node's own warnings are not cowscope's to print beside its one-line errors: one comes whenever FORCE_COLOR
// and NO_COLOR are both set (test runners and CI set both) and the console is used, as yargs prints --help
// with it (CI: a line before "cannot write the output to stdout"). --debug shows them.
if (!debug) process.removeAllListeners('warning');

main().catch((e) => {
  guardStreams();
  fail(e, debug);
});

export { EXIT_USAGE };
