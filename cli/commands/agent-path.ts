// cowscope agent-path: where the Ruby agent is, for RUBYOPT=-r$(cowscope agent-path) in a real server.

import type { CommandModule } from 'yargs';
import { AGENT_PATH } from '../../runtimes/ruby/driver';

export const agentPathCommandModule: CommandModule = {
  command: 'agent-path',
  describe: 'Print the Ruby agent\'s path: start a server with RUBYOPT=-r$(cowscope agent-path) for live blame',
  handler: () => {
    process.stdout.write(`${AGENT_PATH}\n`);
  },
};
