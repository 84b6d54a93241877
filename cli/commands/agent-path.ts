// cowscope agent-path: where a runtime's live agent is. Ruby: the agent file, for
// RUBYOPT=-r$(cowscope agent-path); Python: the agent's folder, for
// PYTHONPATH=$(cowscope agent-path --runtime python) (its sitecustomize.py loads the agent).

import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors';
import { AGENT_PATH, PYTHON_AGENT_DIR } from '../../runtimes/ruby/driver';
import { SPECS } from './specs';

/** What agent-path prints, per runtime. */
const AGENTS: Record<string, string> = { ruby: AGENT_PATH, python: PYTHON_AGENT_DIR };

export const agentPathCommandModule: CommandModule<object, { runtime: string }> = {
  ...SPECS['agent-path'],
  builder: (y: Argv) =>
    y
      .option('runtime', { type: 'string', default: 'ruby', describe: `the runtime whose agent to print (${Object.keys(AGENTS).join(', ')})` })
      .example('RUBYOPT=-r$($0 agent-path) unicorn -c unicorn.rb', 'a Ruby server with the live agent')
      .example('PYTHONPATH=$($0 agent-path --runtime python) gunicorn --preload app:application', 'a Python server with the live agent') as unknown as Argv<{ runtime: string }>,
  handler: (args) => {
    const agent = AGENTS[args.runtime];
    if (!agent) throw new UsageError(`--runtime ${args.runtime} has no agent: give ${Object.keys(AGENTS).join(' or ')}`);
    process.stdout.write(`${agent}\n`);
  },
};
