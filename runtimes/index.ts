// The runtimes cowscope knows. A new runtime adds its adapter here.

import type { Capture } from '../native/capture';
import type { RuntimeAdapter } from './adapter';
import { pythonAdapter } from './python/adapter';
import { rubyAdapter } from './ruby/adapter';

export const RUNTIMES: readonly RuntimeAdapter[] = [rubyAdapter, pythonAdapter];

/** The adapter whose structures the capture carries, if any. */
export function adapterOf(capture: Capture): RuntimeAdapter | undefined {
  return RUNTIMES.find((r) => r.present(capture));
}

/** The adapter of a runtime by name (cowscope run knows which runtime it started). */
export function adapterNamed(name: string): RuntimeAdapter | undefined {
  return RUNTIMES.find((r) => r.name === name);
}
