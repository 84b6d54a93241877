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
