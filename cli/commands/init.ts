// cowscope init: a commented starting cowscope.json for the app in the current folder.

import fs from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors';
import { SPECS } from './specs';

interface InitArgs {
  config: string;
  force: boolean;
}

export function initConfig(dir: string): string {
  const rack = fs.existsSync(path.join(dir, 'config.ru'));
  const scripts = fs.readdirSync(dir).filter((f) => f.endsWith('.rb')).sort();
  const script = scripts.includes('app.rb') ? 'app.rb' : (scripts[0] ?? 'app.rb');
  const program = rack
    ? `  // The Rack app is loaded as the preload; each child sends it these requests \`count\` times.
  "rack": { "config": "config.ru", "requests": ["GET /"], "count": 100 },`
    : `  // The program: a script (forked at its end or at Cowscope.fork_point), or a command such as
  // ["ruby", "-Ilib", "${script}"]. Its children run its Cowscope.workload block, or "workload".
  "program": "${script}",
  // "workload": "workload.rb",`;
  return `// cowscope budget config: \`cowscope budget\` runs this and fails CI when workers share less memory.
// Sizes are 1024-based ("24MiB", "512KiB"); paths are relative to this file.
{
${program}
  "children": 2,
  // What the parent does before forking: none, gc, nakayoshi, compact, warmup, prewarm, … (see README).
  "strategy": "none",
  // Runs per check; the median counts.
  "repeat": 3,
  "budgets": {
    // Memory each child copied (its own pages that were shared at the fork).
    "copiedPerChild": "24MiB",
    // The least share of each child's pages that must still be shared with the parent.
    "sharedRatio": 0.8,
    // Pages each child allocated after the fork.
    "newPerChild": "16MiB",
    // Caps per cause (cowscope run shows the causes), e.g. strings whose coderange a child computed.
    "causes": { "string.coderange": "1MiB" }
  },
  // Record with \`cowscope budget --update-baseline\`; later runs fail when a cause grows past the tolerance.
  "baseline": "cowscope-baseline.json",
  "tolerance": "5%"
}
`;
}

export const initCommandModule: CommandModule<object, InitArgs> = {
  ...SPECS['init'],
  builder: (y: Argv) =>
    y
      .option('config', { type: 'string', default: 'cowscope.json', describe: 'where to write it' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing file' }) as Argv<InitArgs>,
  handler: (args) => {
    if (fs.existsSync(args.config) && !args.force) throw new UsageError(`${args.config} exists: edit it, or pass --force to replace it`);
    fs.writeFileSync(args.config, initConfig(path.dirname(path.resolve(args.config))));
    process.stdout.write(`wrote ${args.config}: adjust the budgets, then run cowscope budget --update-baseline\n`);
  },
};
