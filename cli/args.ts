// Argument checks shared by commands. Each failure says what to type instead.

import { UsageError } from './errors';

export function parsePid(text: string): number {
  if (!/^\d+$/.test(String(text)) || Number(text) <= 0 || Number(text) > 2 ** 22) {
    throw new UsageError(`"${text}" is not a process id: give a number, e.g. cowscope inspect $(pgrep -o unicorn)`);
  }
  return Number(text);
}
