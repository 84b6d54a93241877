// Run by test/analyse-once.test.ts in a process of its own (a controlled fork makes its process a child
// subreaper, which the test runner must not become): one `run --html` in-process, then the counts.

import fs from 'node:fs';
import path from 'node:path';
import { classifyCalls } from '../../analyzers/classify';
import { blameCalls } from '../../blame/engine';
import { measureRun, planRun } from '../../cli/commands/run';
import { runOutput } from '../../cli/render/run-output';

async function main(): Promise<void> {
  const [program, html] = process.argv.slice(2);
  const plan = planRun(
    { program: [program], requests: 1, children: 2, strategy: 'none', timeout: 60, traceAllocations: false, prewarm: 1, ruby: 'ruby', json: false, bytes: false, html },
    fs.createWriteStream('/dev/null'),
  );
  const { capture, analysis } = await measureRun(plan, ['run']);
  const text = runOutput(capture, analysis, { json: false, bytes: false, html });
  process.stdout.write(JSON.stringify({ classify: classifyCalls.count, blame: blameCalls.count, children: analysis.report.children.length, text, html: path.resolve(html) }));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
