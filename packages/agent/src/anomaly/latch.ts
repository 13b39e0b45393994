/**
 * Edge detection with hysteresis: a condition is reported when it starts and
 * when it ends, never while it lasts. `enter` says the condition holds now;
 * `exit` says it is clearly over (a margin below the threshold, so a value
 * hovering at the threshold does not flap).
 */
export class Latch {
  private readonly active = new Set<string>();

  /** "started" or "cleared" on an edge, null otherwise. */
  update(key: string, enter: boolean, exit: boolean): "started" | "cleared" | null {
    if (this.active.has(key)) {
      if (!exit) return null;
      this.active.delete(key);
      return "cleared";
    }
    if (!enter) return null;
    this.active.add(key);
    return "started";
  }

  has(key: string): boolean {
    return this.active.has(key);
  }

  /** Forgets a condition without reporting that it cleared. */
  drop(key: string): void {
    this.active.delete(key);
  }

  get size(): number {
    return this.active.size;
  }
}
