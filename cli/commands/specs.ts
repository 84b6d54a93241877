// Each command's name and one-line description, kept apart from its implementation: `cowscope --help`
// lists them, and cli/main.ts loads a command's module only when that command runs.

export const SPECS = {
  inspect: { command: 'inspect <pid>', describe: 'Memory of a process and its descendants, and how much each child still shares with its parent' },
  run: { command: 'run [program..]', describe: 'Start a Ruby or Python program, fork it at its fork point, run a workload in the children, and measure what they copied' },
  compare: { command: 'compare [program..]', describe: 'Run a program under several fork strategies, several times each, and compare what the children copy' },
  budget: { command: 'budget', describe: 'Check copy-on-write memory budgets in CI: exit 1 when a budget is exceeded or a cause grew against the baseline' },
  init: { command: 'init', describe: 'Measure the app in this folder once and write a commented cowscope.json with budgets above what it measured' },
  report: { command: 'report <file>', describe: 'Render a capture saved with `cowscope run --save FILE`, on any machine where cowscope is installed' },
  'agent-path': { command: 'agent-path', describe: 'Print the live agent\'s path: RUBYOPT=-r$(cowscope agent-path), or PYTHONPATH=$(cowscope agent-path --runtime python), for live blame' },
  doctor: { command: 'doctor', describe: 'What this machine allows and which tier (exact or exclusive-bit) you will get' },
} as const;

export type CommandName = keyof typeof SPECS;

/** The files each command writes, by option, with an example name for each: cli/main.ts checks them
 *  before anything runs (a run of a minute must not end in "cannot write" with its report lost). Per
 *  command, because a name can be an output of one and an input of another (init's --config is written,
 *  budget's is read). */
export const OUTPUT_FILES: Record<CommandName, Record<string, string>> = {
  inspect: { html: 'report.html', output: 'cowscope.prom' },
  run: { save: 'run.cow', html: 'report.html' },
  compare: { html: 'report.html' },
  budget: { junit: 'cowscope.xml' },
  init: { config: 'cowscope.json' },
  report: { html: 'report.html' },
  'agent-path': {},
  doctor: {},
};
