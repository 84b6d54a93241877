// Benchmark of `cowscope run` on CPython, printed (never asserted): for each interpreter present, the
// heap-map walk (objects and objects per second, from the report) and the whole run's wall time against
// the program's own boot (the same script without cowscope, where fork_point and workload are no-ops).
// Run as root after a build: node dist/bench/python.js

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../test/helpers/family';
import { testPythons } from '../test/helpers/python';
import { PYTHON_AGENT_DIR } from '../runtimes/ruby/driver';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const SCRIPT = path.join(ROOT, 'fixtures', 'python', 'causes.py');
const REPEAT = 3;

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): { seconds: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, stdout: r.stdout };
}

for (const { python, version } of testPythons()) {
  for (const mode of ['noop', 'refcount', 'specialize']) {
    const env = { COWSCOPE_CAUSE: mode };
    let boot = Infinity;
    let run = Infinity;
    let walk = Infinity;
    let objects = 0;
    for (let i = 0; i < REPEAT; i++) {
      // the agent on the path, as a program that imports cowscope outside it would have it
      boot = Math.min(boot, timed(python, [SCRIPT], { ...env, PYTHONPATH: PYTHON_AGENT_DIR }).seconds);
      const r = timed(process.execPath, [CLI, 'run', '--json', '--children', '1', '--', python, SCRIPT], env);
      const report = JSON.parse(r.stdout);
      run = Math.min(run, r.seconds);
      walk = Math.min(walk, report.heapMap.seconds);
      objects = report.heapMap.objects;
    }
    console.log(
      `Python ${version} ${mode.padEnd(10)} heap map ${String(objects).padStart(7)} objects in ${walk.toFixed(2)} s (${Math.round(objects / walk / 1000)}k objects/s); ` +
        `run ${run.toFixed(2)} s against the boot alone ${boot.toFixed(2)} s (best of ${REPEAT})`,
    );
  }
}
