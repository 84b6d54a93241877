// cowscope agent-path: where the Ruby agent is, for RUBYOPT=-r$(cowscope agent-path) in a real server.

import type { CommandModule } from 'yargs';
import { AGENT_PATH } from '../../runtimes/ruby/driver';
import { SPECS } from './specs';

export const agentPathCommandModule: CommandModule = {
  ...SPECS['agent-path'],
  handler: () => {
    process.stdout.write(`${AGENT_PATH}\n`);
  },
};
