// cowscope doctor: what this machine allows, and which tier cowscope will work in.

import type { Argv, CommandModule } from 'yargs';
import { MachineFacts, machineFacts } from '../../native/machine';
import { faultTracingAvailability } from '../../native/faults';
import { renderTable } from '../render/table';
import { LAYOUTS, PYTHON_OLDEST, pythonLayoutFor } from '../../runtimes/python/layouts';
import { SPECS } from './specs';

interface DoctorArgs {
  json: boolean;
}

interface Check {
  check: string;
  value: string;
  meaning: string;
}

const YAMA: Record<number, string> = {
  0: 'classic ptrace rules: memory of same-user processes is readable',
  1: 'memory reads only of descendants: fine for `run`; `inspect` of unrelated processes falls back to metadata',
  2: 'memory reads need CAP_SYS_PTRACE',
  3: 'no memory reads at all: content comparison is off',
};

/** What cowscope does with the python3 on PATH: it runs every version from PYTHON_OLDEST on, and decodes
 *  the interpreter's own fields (adaptive bytecode, hashes, type versions) in those of its version table. */
function pythonMeaning(python: MachineFacts['python']): string {
  const known = LAYOUTS.map((l) => l.version).join(', ');
  if (!python) return 'install Python (apt-get install python3) for cowscope run -- python3 app.py';
  const [major, minor] = python.version.split('.').map(Number);
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return 'python3 did not say its version: cowscope run -- python3 app.py may fail';
  if (major * 100 + minor < PYTHON_OLDEST[0] * 100 + PYTHON_OLDEST[1])
    return `cowscope runs CPython ${PYTHON_OLDEST.join('.')} or newer: install one (apt-get install python3) or give --python PATH to cowscope run`;
  return pythonLayoutFor(python.version)
    ? `controlled forks of Python programs (cowscope run -- python3 app.py); ${python.version.replace(/\.\d+$/, '')} is in the version table (${known})`
    : `controlled forks of Python programs; ${python.version} is not in the version table (${known}): blame without bytecode, hash or type-version decoding`;
}

export function doctorChecks(m: MachineFacts): { tier: string; checks: Check[] } {
  const tier = m.pfnVisible ? 'exact' : 'exclusive-bit';
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const checks: Check[] = [
    { check: 'kernel', value: m.kernel, meaning: 'pagemap flags need 4.2+, PAGEMAP_SCAN 6.7+' },
    { check: 'page size', value: `${m.pageSize} bytes`, meaning: 'the unit every page count is in' },
    {
      check: 'transparent huge pages',
      value: m.thp,
      meaning: m.thp === 'always' ? 'bit 56 is unreliable in PMD-mapped THP: such pages are judged by content' : 'THP only where programs ask for it',
    },
    { check: 'user', value: `uid ${m.uid}`, meaning: m.uid === 0 ? 'root' : 'unprivileged: same-user, dumpable targets only' },
    { check: 'CAP_SYS_ADMIN', value: yes(m.capSysAdmin), meaning: m.capSysAdmin ? 'PFNs visible: exact tier' : 'PFNs hidden: exclusive-bit tier' },
    { check: 'CAP_SYS_PTRACE', value: yes(m.capSysPtrace), meaning: 'needed to read processes of other users' },
    { check: 'pagemap readable', value: yes(m.pagemapReadable), meaning: m.pagemapReadable ? 'page flags readable' : 'cowscope cannot work here' },
    { check: 'PFN visible', value: yes(m.pfnVisible), meaning: m.pfnVisible ? 'shared = same physical page' : 'shared judged by bit 56 and contents' },
    { check: 'kpagecount/kpageflags', value: yes(m.kpagecount && m.kpageflags), meaning: 'zero and THP page kinds by frame (root)' },
    {
      check: 'PAGEMAP_SCAN',
      value: yes(m.pagemapScan),
      meaning: m.pagemapScan ? 'zero pages told apart without root' : 'zero pages need root to tell apart',
    },
    {
      check: 'zero page on read',
      value: m.zeroPage === null ? 'unknown' : yes(m.zeroPage),
      meaning:
        m.zeroPage === null
          ? 'pagemap unreadable'
          : m.zeroPage
            ? 'pages only read map the zero page: counted apart (zero)'
            : 'read faults map a zeroed page of the process\'s own: pages only read count as its own, no zero pages',
    },
    {
      check: 'soft-dirty',
      value: yes(m.softDirty),
      meaning: m.softDirty ? 'kernel tracks written pages' : 'kernel built without CONFIG_MEM_SOFT_DIRTY (not needed)',
    },
    {
      check: 'Yama ptrace_scope',
      value: m.ptraceScope === null ? 'not built in' : String(m.ptraceScope),
      meaning: m.ptraceScope === null ? 'no extra limit on memory reads' : (YAMA[m.ptraceScope] ?? 'unknown value'),
    },
    {
      check: 'KSM',
      value: m.ksmRun === null ? 'not built in' : m.ksmRun === 0 ? 'off' : 'on',
      meaning: m.ksmRun ? 'merged pages look shared, in every tier; inspect says when KSM holds merged pages' : 'no page merging',
    },
    { check: 'swap', value: `${m.swapDevices} device(s)`, meaning: m.swapDevices ? 'swapped pages are counted apart' : 'no swap: nothing hides in it' },
    {
      check: 'ruby',
      value: m.ruby ? `${m.ruby.version} (${m.ruby.path})` : 'not found',
      meaning: m.ruby ? 'controlled forks of Ruby programs (cowscope run)' : 'install Ruby (apt-get install ruby) for cowscope run',
    },
    {
      check: 'python3',
      value: m.python ? `${m.python.version} (${m.python.path})` : 'not found',
      meaning: pythonMeaning(m.python),
    },
    { check: 'smem', value: m.smem ?? 'not found', meaning: 'cross-check for PSS/USS (optional)' },
    ((f) => ({ check: 'fault tracing', value: f.available ? 'yes' : 'no', meaning: `${f.available ? 'run names the first writer of each copied page' : 'run reports no first writers'}: ${f.why}` }))(faultTracingAvailability()),
  ];
  return { tier, checks };
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
  ...SPECS['doctor'],
  builder: (y: Argv) =>
    y.option('json', { type: 'boolean', default: false, describe: 'print the facts as JSON (schema cowscope.doctor/1)' }) as Argv<DoctorArgs>,
  handler: (args) => {
    const facts = machineFacts();
    const { tier, checks } = doctorChecks(facts);
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ schema: 'cowscope.doctor/1', tier, facts, checks }, null, 2)}\n`);
      return;
    }
    process.stdout.write(`${renderTable(['CHECK', 'VALUE', 'WHAT IT MEANS'], checks.map((c) => [c.check, c.value, c.meaning]))}\n\n`);
    process.stdout.write(`tier: ${tier}${tier === 'exact' ? '' : ' (run as root for the exact tier)'}\n`);
  },
};
