// Text that came from a process or a file (command lines, paths, comm names, class names of a heap
// map, anything read back from a capture) is shown with its control characters escaped, so that it
// cannot move the cursor, recolour or retitle the terminal, or split one line of output into two.

// C0 controls (tab and newline included), DEL, C1 controls (U+009B is CSI on some terminals), and the
// Unicode bidirectional overrides and isolates, which reorder what is shown.
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const HAS_CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** s with every control character written as an escape: ESC as `\x1b`, U+202E as `\u202e`. */
export function escapeControl(s: string): string {
  if (!HAS_CONTROL.test(s)) return s;
  return s.replace(CONTROL, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}
