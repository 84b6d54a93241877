// The cause catalog is the one list of cause ids: README and docs/causes.md carry its table verbatim,
// every cause the Ruby rules can name is in it, and cowscope.json is validated against it.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CAUSES, FAMILIES, causeTableMarkdown, isCause, nearestCauses } from '../blame/catalog';
import { ROOT } from './helpers/family';
import { runCowscope, tempDir } from './helpers/ruby';

const tmp = tempDir('catalog');
test.after(() => tmp.remove());

function tableIn(file: string): string {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const m = /<!-- cause catalog:[^>]*-->\n([\s\S]*?)\n<!-- end of cause catalog -->/.exec(text);
  assert.ok(m, `${file} has the generated cause table`);
  return m![1];
}

test('README and docs/causes.md carry the catalog table exactly', () => {
  assert.is(tableIn('README.md'), causeTableMarkdown());
  assert.is(tableIn('docs/causes.md'), causeTableMarkdown());
});

test('ids are unique, every row has a family and a meaning, at most ten families', () => {
  assert.is(new Set(CAUSES.map((c) => c.id)).size, CAUSES.length);
  for (const c of CAUSES) {
    assert.ok(c.family in FAMILIES, c.id);
    assert.ok(c.meaning.length > 10, c.id);
  }
  assert.ok(Object.keys(FAMILIES).length <= 10);
});

test('every cause id written in the Ruby rules is in the catalog', () => {
  const src = ['runtimes/ruby/blamer.ts', 'allocators/glibc/rules.ts'].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
  const ids = new Set([...src.matchAll(/'((?:gc|alloc|icache|object|string|hash|method|mutation|malloc|vm|exec|same-value)\.[a-z-]+|unknown)'/g)].map((m) => m[1]));
  assert.ok(ids.size > 20, `found ${ids.size} ids`);
  for (const id of ids) assert.ok(isCause(id), `${id} is in blame/catalog.ts`);
});

test('nearest ids for a misspelling', () => {
  assert.equal(nearestCauses('string.coderage')[0], 'string.coderange');
  assert.equal(nearestCauses('gc.ages')[0], 'gc.age');
});

test('budget: a misspelt cause id in cowscope.json exits 2 naming the nearest valid id', () => {
  const config = path.join(tmp.dir, 'cowscope.json');
  fs.writeFileSync(config, JSON.stringify({ program: path.join(ROOT, 'fixtures/ruby/noop.rb'), budgets: { causes: { 'string.coderage': '1MiB' } } }));
  const r = runCowscope(['budget', '--config', config]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /budgets\.causes\.string\.coderage: unknown cause id: did you mean "string\.coderange"/);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('no source or doc file points outside the repository', () => {
  const hits: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (['node_modules', 'dist', 'build', '.git'].includes(e.name)) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|cc|h|rb|py|md|sh|json|gyp)$|^run$/.test(e.name)) {
        const text = fs.readFileSync(p, 'utf8');
        if (/\.\.\/shared|shared\/design|shared\/reference/.test(text)) hits.push(path.relative(ROOT, p));
      }
    }
  };
  walk(ROOT);
  assert.equal(hits, []);
});

test.run();
