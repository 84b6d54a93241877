// Pages a native library of the program wrote: a C extension, or a C library one wraps (SQLite, OpenSSL,
// libxml2), storing into its own memory (a connection's page cache, a handle's state) that no object
// of the runtime owns. Its words tell nothing of the runtime; the first write fault (fault tracing)
// names the code. Found on a Python program that opened an in-memory SQLite database at boot and queried
// it in the workers (3.11-3.13): 175 of its 4,120 copied pages a child were SQLite's page cache
// (4,384-byte chunks), copied by a read-only query that pinned and unpinned its pages (the same bytes
// again), first written in libsqlite3; they were same-value.unknown.
//
// Runtime-independent: each runtime says which files are its own core (the interpreter and its shared
// library, whose writes its own rules explain).

import type { Capture } from '../native/capture';
import { WRITER_FRAMES } from '../native/capture';
import { childTrace } from './first-writer';
import { indexOf } from './words';

/** Files whose code runs for every program and writes for the runtime or the allocator: the C library,
 *  the dynamic linker, the C++ and GCC support libraries, and malloc replacements. A frame in one of them
 *  (memcpy, malloc) is called by the code that matters: the frame after it is judged. */
const SYSTEM_FILE = /\/(ld-linux[^/]*|ld-[\d.]+\.so|lib(c|m|dl|rt|pthread|gcc_s|stdc\+\+|atomic|jemalloc|tcmalloc\w*|mimalloc)([.-][^/]*)?\.so[^/]*)$/;

/** The first writer of each copied page of a child when that is a native library of the program (the
 *  file's path), undefined otherwise (the runtime's core, no fault seen, no frame named). `core` matches
 *  the runtime's own files; the first frame outside the C library is the one judged. */
export function nativeWriterOf(capture: Capture, pid: number, core: RegExp): (page: number) => string | undefined {
  const w = childTrace(capture, pid);
  if (!w) return () => undefined;
  return (page) => {
    const k = indexOf(w.addrs, page);
    if (k < 0) return undefined;
    for (let f = k * WRITER_FRAMES; f < (k + 1) * WRITER_FRAMES; f++) {
      const fn = w.fn[f];
      if (fn < 0) return undefined;
      const file = w.functions[fn].file;
      if (SYSTEM_FILE.test(file)) continue;
      return file.startsWith('/') && !core.test(file) ? file : undefined;
    }
    return undefined;
  };
}

/** The C library's routines that store a caller's bytes (a copy, a fill): a native library's own store
 *  when it calls one, where a malloc it calls is the allocator's. By name, approximate names too (a C
 *  library without a .symtab names its exported memcpy and memset all the same). */
const STORE_ROUTINE = /^(__)?(mem(cpy|move|set|pcpy)|str(n?cpy|n?cat)|stpn?cpy|bzero|wmem\w+)/;

/** Did a native library of the program write each copied page first by a store of its own: the faulting
 *  frame in its file, or a C library routine that stores what it is given (STORE_ROUTINE) that it called?
 *  Not a malloc or free it called (glibc's chunk headers and links are the allocator's, whether glibc's
 *  functions are named or not). */
export function nativeStoreOf(capture: Capture, pid: number, core: RegExp): (page: number) => boolean {
  const w = childTrace(capture, pid);
  const native = nativeWriterOf(capture, pid, core);
  if (!w) return () => false;
  return (page) => {
    if (native(page) === undefined) return false;
    const fn = w.fn[indexOf(w.addrs, page) * WRITER_FRAMES];
    const first = w.functions[fn];
    return !SYSTEM_FILE.test(first.file) || STORE_ROUTINE.test(first.name);
  };
}
