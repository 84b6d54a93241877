// The function that first wrote each copied page of a child (fault tracing, capture.faults): the write
// that unshared the page. Rules of every runtime ask it where a page's words cannot tell who wrote it.

import type { Capture, WriterFunction } from '../native/capture';
import { WRITER_FRAMES } from '../native/capture';
import { indexOf } from './words';

/** The first writer of a child's copied page, by page address; undefined where no fault was seen (the
 *  capture was not traced, or the page was written before the child was continued). */
export function firstWriterOf(capture: Capture, pid: number): (page: number) => WriterFunction | undefined {
  const w = capture.faults?.traced ? capture.faults.children.find((c) => c.pid === pid) : undefined;
  if (!w) return () => undefined;
  return (page) => {
    const k = indexOf(w.addrs, page);
    const fn = k < 0 ? -1 : w.fn[k * WRITER_FRAMES];
    return fn >= 0 ? w.functions[fn] : undefined;
  };
}
