// cowscope inspect PID: gather (native) -> classify and summarize (analyzers) -> render (cli).

import type { Argv, CommandModule } from 'yargs';
import { Role, captureProcesses, checkTarget } from '../../native/capture';
import { ProcessInfo, familyOf, processInfo } from '../../native/proc';
import { inspectReport } from '../../analyzers/inspect-report';
import { settleTies } from '../measure';
import { analyzePair, familyPairs } from '../../analyzers/sharing';
import { renderInspectText } from '../render/inspect-text';
import { parsePid } from '../args';

interface InspectArgs {
  pid: string;
  mappings: boolean;
  json: boolean;
  bytes: boolean;
}

/** The target and its live descendants; zombies are skipped with a note (their memory is gone). */
function liveFamily(target: ProcessInfo): { family: ProcessInfo[]; skipped: string[] } {
  const family: ProcessInfo[] = [target];
  const skipped: string[] = [];
  for (const pid of familyOf(target.pid).slice(1)) {
    const info = processInfo(pid);
    if (!info) continue; // exited while we listed
    if (info.zombie) skipped.push(`process ${pid} (${info.comm}) is a zombie and was skipped`);
    else family.push(info);
  }
  return { family, skipped };
}

export async function inspect(args: InspectArgs): Promise<string> {
  const target = checkTarget(parsePid(args.pid));
  const { family, skipped } = liveFamily(target);
  const roles = new Map<number, Role>(family.map((p) => [p.pid, p.pid === target.pid ? (family.length > 1 ? 'parent' : 'process') : 'child']));
  const capture = await captureProcesses(family, { roles, command: ['inspect', args.pid] });
  const pairs = familyPairs(capture).map(({ child, parent }) => ({ child, reference: parent }));
  settleTies(capture, pairs);
  const sharing = pairs.map(({ child, reference }) => analyzePair(capture, child, reference).sharing);
  const report = inspectReport(capture, sharing, { mappings: args.mappings, skipped });
  return args.json ? `${JSON.stringify(report, null, 2)}\n` : renderInspectText(report, args);
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <pid>',
  describe: 'Memory of a process and its descendants, and how much each child still shares with its parent',
  builder: (y: Argv) =>
    y
      .positional('pid', { type: 'string', demandOption: true, describe: 'the process to inspect (a forking server\'s master, say)' })
      .option('mappings', { type: 'boolean', default: false, describe: 'also break each child down by mapping (VMA)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON (schema cowscope.inspect/1)' })
      .option('bytes', { type: 'boolean', default: false, describe: 'print sizes in bytes instead of K/M/G' })
      .example('$0 inspect $(pgrep -o unicorn)', 'the master and its workers: RSS/PSS/USS, and per worker what it still shares')
      .example('$0 inspect 1234 --mappings', 'where in the address space the copies are')
      .epilogue(
        [
          'Page classes (for every page of a child\'s private mappings, against its parent):',
          '  shared   the same page as the parent         copied  both have it, different pages (either side wrote)',
          '  new      only the child has it               absent  only the parent has it (not faulted in by the child)',
          '  zero     the shared zero page (costs nothing)  swapped the child\'s page is in swap',
          'Tier: as root, pages are compared by physical frame (exact); otherwise by pagemap bit 56 and contents',
          '(exclusive-bit). `cowscope doctor` says which tier this machine gives you.',
          'RSS/PSS/USS/SWAP come from smaps_rollup; USS = Private_Clean + Private_Dirty, as smem counts it.',
        ].join('\n'),
      ) as Argv<InspectArgs>,
  handler: async (args) => {
    process.stdout.write(await inspect(args));
  },
};
