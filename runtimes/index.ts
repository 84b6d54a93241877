// The runtimes cowscope knows. A new runtime adds its adapter here.

import type { Capture } from '../native/capture';
import type { RuntimeAdapter } from './adapter';
import { rubyAdapter } from './ruby/adapter';

export const RUNTIMES: readonly RuntimeAdapter[] = [rubyAdapter];

/** The adapter whose structures the capture carries, if any. */
export function adapterOf(capture: Capture): RuntimeAdapter | undefined {
  return RUNTIMES.find((r) => r.present(capture));
}
