/** A token bucket per key: `burst` at once, refilled at `perSecond`. Pure apart from the time passed in. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  take(key: string, nowMs: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.burst, atMs: nowMs };
    const elapsed = Math.max(0, nowMs - b.atMs);
    b.tokens = Math.min(this.burst, b.tokens + (elapsed * this.perSecond) / 1000);
    b.atMs = nowMs;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(key, b);
    return ok;
  }
}
