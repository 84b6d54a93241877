// Wall-clock milliseconds per step of one measurement, for --debug: where a command's time goes.

export class Laps {
  readonly steps: Record<string, number> = {};
  private last = performance.now();

  /** The time since the previous lap (or since the start) goes to `name`; laps of one name add up. */
  lap(name: string): void {
    const now = performance.now();
    this.add(name, now - this.last);
    this.last = now;
  }

  /** Time measured elsewhere (e.g. between two events of the program, or on the thread pool). */
  add(name: string, ms: number): void {
    this.steps[name] = (this.steps[name] ?? 0) + ms;
  }

  /** Awaits work on the thread pool: the time spent waiting for it goes to "waiting for the pool", not
   *  to the step under way (the pool's work overlaps the steps). */
  async wait<T>(work: Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await work;
    } finally {
      const ms = performance.now() - t;
      this.add('waiting for the pool', ms);
      this.last += ms;
    }
  }

  /** Restarts the clock of the next lap now, without counting what came before it. */
  skip(): void {
    this.last = performance.now();
  }

  /** "name 12, other 340" */
  toString(): string {
    return Object.entries(this.steps)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ');
  }
}
