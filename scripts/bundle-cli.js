#!/usr/bin/env node
// Bundles the modules `cowscope inspect PID` loads into one file, dist/cli/bundle.js, and keeps V8's code
// for it in dist/cli/bundle.cache: bin/cowscope runs them when they are there and up to date (else
// dist/cli/main.js). Start-up is part of every inspect, which is held to smem's time: loading its 26
// modules one by one cost ~30 ms of CPU in resolving, reading and compiling them (each require walks the
// folders for a package.json, stats and reads a file, compiles a wrapper), on a machine of 2 cores where
// the family's reads need both. Run after tsc (npm run compile: build, prepare, test and bench do).
//
// The bundle holds the modules the quick inspect path loads at their top level (tsc's `require("./x")`
// lines), starting from ROOTS; anything else (yargs, the other commands, their modules) is required from
// dist as usual. Each bundled module is made a real Module in require.cache under its own file name, so
// a module required later from dist finds the bundled one, never a second copy. Its first line lists
// the modules with the size each had, and the id of the bundle's body: bin/cowscope uses the bundle only
// while every one has that size and is no newer than the bundle (a tsc run since, without this script,
// falls back to dist/cli/main.js; npm pack gives every file one date, so an install's are all as old). A
// stat each: reading and hashing them cost more than half of what the bundle saves.

'use strict';
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const DIST = path.join(__dirname, '..', 'dist');
const OUT = path.join(DIST, 'cli', 'bundle.js');
const CACHE = path.join(DIST, 'cli', 'bundle.cache');
/** cli/main.js, and what its quick inspect path requires lazily (main.ts, main()) */
const ROOTS = ['cli/main.js', 'analyzers/classify.js', 'native/capture.js', 'cli/commands/inspect.js'];
/** a require at a module's top level, as tsc writes an import: double quotes, at the start of a line */
const TOP_LEVEL_REQUIRE = /^(?:const \w+ = (?:__import(?:Default|Star)\()?|__exportStar\()require\("(\.{1,2}\/[^"]+)"\)/gm;

function modules() {
  const seen = new Set();
  const visit = (rel) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const src = fs.readFileSync(path.join(DIST, rel), 'utf8');
    for (const m of src.matchAll(TOP_LEVEL_REQUIRE)) visit(path.posix.join(path.posix.dirname(rel), m[1].endsWith('.js') ? m[1] : `${m[1]}.js`));
  };
  ROOTS.forEach(visit);
  return [...seen];
}

function bundle(rels) {
  const manifest = rels.map((rel) => [rel, fs.statSync(path.join(DIST, rel)).size]);
  const defs = rels.map((rel) => {
    const src = fs
      .readFileSync(path.join(DIST, rel), 'utf8')
      .replace(/^#!.*\n/, '')
      .replace(/^\/\/# sourceMappingURL=.*$/m, '');
    return `${JSON.stringify(rel)}: function (exports, require, module, __filename, __dirname) {\n${src}\n}`;
  });
  // One function expression: bin/cowscope compiles the file as it is (vm.Script, with the code cache) and
  // calls it with dist's folder, node's Module and its require.
  const body = `(function (DIST, Module, require) {
'use strict';
const path = require('node:path');
const defs = {
${defs.join(',\n')}
};
function load(rel) {
  const filename = path.join(DIST, rel);
  const cached = Module._cache[filename];
  if (cached) return cached.exports;
  const m = new Module(filename, undefined);
  m.filename = filename;
  m.paths = Module._nodeModulePaths(path.dirname(filename));
  Module._cache[filename] = m;
  const req = (id) => {
    if (id.startsWith('.')) {
      const rel2 = path.posix.join(path.posix.dirname(rel), id.endsWith('.js') || id.endsWith('.node') ? id : id + '.js');
      if (Object.hasOwn(defs, rel2)) return load(rel2);
    }
    return m.require(id);
  };
  try {
    defs[rel].call(m.exports, m.exports, req, m, filename, path.dirname(filename));
  } catch (e) {
    // as node does: a module that threw is not left half made for the next require
    delete Module._cache[filename];
    throw e;
  }
  m.loaded = true;
  return m.exports;
}
load('cli/main.js');
})`;
  // the body's SHA-1, which the code cache starts with: V8 checks a cache against its source's length
  // only, so that a cache made for another bundle of the same length is never run
  const id = createHash('sha1').update(body).digest('hex');
  return { id, text: `/*${JSON.stringify({ id, modules: manifest })}*/${body}` };
}

const rels = modules();
const { id, text } = bundle(rels);
fs.rmSync(CACHE, { force: true });
fs.writeFileSync(`${OUT}.tmp`, text);
fs.renameSync(`${OUT}.tmp`, OUT);
// The code cache: the bundle compiled and run once as bin/cowscope runs it (an inspect of this process),
// then V8's code for every function that ran, written at exit. Made here, never at run time.
const warm = `
const fs = require('node:fs'); const vm = require('node:vm'); const Module = require('node:module');
const [file, cache, pid] = process.argv.slice(1);
const script = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file });
process.argv = [process.argv0, file, 'inspect', pid, '--json'];
process.on('exit', () => fs.writeFileSync(cache + '.tmp', Buffer.concat([Buffer.from(${JSON.stringify(id)}), script.createCachedData()])));
script.runInThisContext()(${JSON.stringify(DIST)}, Module, require);
`;
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS; // as bin/cowscope starts node
const r = spawnSync(process.execPath, ['-e', warm, OUT, CACHE, String(process.pid)], { encoding: 'utf8', env });
if (r.status === 0 && fs.existsSync(`${CACHE}.tmp`)) fs.renameSync(`${CACHE}.tmp`, CACHE);
else {
  fs.rmSync(`${CACHE}.tmp`, { force: true });
  process.stderr.write(`bundle-cli: no code cache (the warm-up inspect exited ${r.status}: ${(r.stderr || '').trim().split('\n')[0]}); bin/cowscope compiles the bundle each run\n`);
}
// to stderr: a lifecycle script's stdout would be mixed into `npm pack --json`'s
process.stderr.write(`bundle-cli: ${rels.length} modules in ${path.relative(process.cwd(), OUT)}${fs.existsSync(CACHE) ? `, code cache ${fs.statSync(CACHE).size - id.length} bytes` : ''}\n`);
