// An index of ready nodes by the free amount of one metric, for picking a node
// in O(log nodes) instead of scanning them all.
//
// A treap (randomised balanced search tree, deterministic priorities) keyed by
// (free amount of the metric, node position), where a node's position is its
// rank in name-then-id order, so ties go to the node that sorts first. Every
// subtree also keeps the largest free cpu, memory and gpu of its nodes, so a
// search skips any subtree where no node has enough of some resource. "Fits"
// needs cpu, memory and gpu at once: when the best node by the metric lacks
// another resource the search moves on to the next one in key order, pruned by
// those maxima, so the answer is always the one a full scan would give.
//
// All state lives in typed arrays indexed by node position; updating a node
// (remove with its old key, insert with the new one) allocates nothing. An
// index may hold a subset of the nodes (those satisfying one set of
// constraints). Nodes marked in the shared `blocked` array (spread: nodes that
// already host a replica of the same type) are passed over by searches; each
// costs at most one extra O(log nodes) descent.

const NONE = -1;

/** Deterministic treap priority for a position (an integer hash). */
function priority(position: number): number {
  let x = Math.imul(position + 1, 0x9e3779b1) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export class FreeIndex {
  private root = NONE;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly prio: Uint32Array;
  private readonly maxCpu: Float64Array;
  private readonly maxMemory: Float64Array;
  private readonly maxGpu: Float64Array;
  private readonly member: Uint8Array;
  // Request being searched for (set by each query, read by the recursive helpers).
  private needCpu = 0;
  private needMemory = 0;
  private needGpu = 0;
  // Results of split().
  private splitLeft = NONE;
  private splitRight = NONE;

  /**
   * `key` is one of the three free arrays (the metric this index orders by);
   * the arrays are owned by the ledger and must be current when the index is used.
   */
  constructor(
    private readonly key: Float64Array,
    private readonly freeCpu: Float64Array,
    private readonly freeMemory: Float64Array,
    private readonly freeGpu: Float64Array,
    private readonly blocked: Uint8Array,
  ) {
    const n = key.length;
    this.left = new Int32Array(n).fill(NONE);
    this.right = new Int32Array(n).fill(NONE);
    this.prio = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.prio[i] = priority(i);
    this.maxCpu = new Float64Array(n);
    this.maxMemory = new Float64Array(n);
    this.maxGpu = new Float64Array(n);
    this.member = new Uint8Array(n);
  }

  /** Whether node `x` is in this index. */
  has(x: number): boolean {
    return this.member[x] === 1;
  }

  /** Whether node `a` comes before node `b` in key order. */
  private before(a: number, b: number): boolean {
    const ka = this.key[a] as number;
    const kb = this.key[b] as number;
    return ka < kb || (ka === kb && a < b);
  }

  private pull(t: number): void {
    let cpu = this.freeCpu[t] as number;
    let memory = this.freeMemory[t] as number;
    let gpu = this.freeGpu[t] as number;
    const l = this.left[t] as number;
    const r = this.right[t] as number;
    if (l !== NONE) {
      cpu = Math.max(cpu, this.maxCpu[l] as number);
      memory = Math.max(memory, this.maxMemory[l] as number);
      gpu = Math.max(gpu, this.maxGpu[l] as number);
    }
    if (r !== NONE) {
      cpu = Math.max(cpu, this.maxCpu[r] as number);
      memory = Math.max(memory, this.maxMemory[r] as number);
      gpu = Math.max(gpu, this.maxGpu[r] as number);
    }
    this.maxCpu[t] = cpu;
    this.maxMemory[t] = memory;
    this.maxGpu[t] = gpu;
  }

  /** Splits `t` into the nodes before `x` (splitLeft) and after it (splitRight). */
  private split(t: number, x: number): void {
    if (t === NONE) {
      this.splitLeft = NONE;
      this.splitRight = NONE;
      return;
    }
    if (this.before(t, x)) {
      this.split(this.right[t] as number, x);
      this.right[t] = this.splitLeft;
      this.pull(t);
      this.splitLeft = t;
    } else {
      this.split(this.left[t] as number, x);
      this.left[t] = this.splitRight;
      this.pull(t);
      this.splitRight = t;
    }
  }

  private merge(a: number, b: number): number {
    if (a === NONE) return b;
    if (b === NONE) return a;
    if ((this.prio[a] as number) > (this.prio[b] as number)) {
      this.right[a] = this.merge(this.right[a] as number, b);
      this.pull(a);
      return a;
    }
    this.left[b] = this.merge(a, this.left[b] as number);
    this.pull(b);
    return b;
  }

  private insertAt(t: number, x: number): number {
    if (t === NONE) return x;
    if ((this.prio[x] as number) > (this.prio[t] as number)) {
      this.split(t, x);
      this.left[x] = this.splitLeft;
      this.right[x] = this.splitRight;
      this.pull(x);
      return x;
    }
    if (this.before(x, t)) this.left[t] = this.insertAt(this.left[t] as number, x);
    else this.right[t] = this.insertAt(this.right[t] as number, x);
    this.pull(t);
    return t;
  }

  private removeAt(t: number, x: number): number {
    if (t === NONE) throw new Error(`free index: node ${x} is not indexed`);
    if (t === x) return this.merge(this.left[t] as number, this.right[t] as number);
    if (this.before(x, t)) this.left[t] = this.removeAt(this.left[t] as number, x);
    else this.right[t] = this.removeAt(this.right[t] as number, x);
    this.pull(t);
    return t;
  }

  /** Adds node `x` with its current free amounts. */
  insert(x: number): void {
    this.left[x] = NONE;
    this.right[x] = NONE;
    this.pull(x);
    this.root = this.insertAt(this.root, x);
    this.member[x] = 1;
  }

  /** Removes node `x`; call before its free amounts change (its key must be the one it was inserted with). */
  remove(x: number): void {
    this.root = this.removeAt(this.root, x);
    this.member[x] = 0;
  }

  private refreshAt(t: number, x: number): void {
    if (t === NONE) throw new Error(`free index: node ${x} is not indexed`);
    if (t !== x) this.refreshAt(this.before(x, t) ? (this.left[t] as number) : (this.right[t] as number), x);
    this.pull(t);
  }

  /** Recomputes the maxima above node `x` after its other amounts changed; its key must not have changed. */
  refresh(x: number): void {
    this.refreshAt(this.root, x);
  }

  private subtreeMayFit(t: number): boolean {
    return (
      (this.maxCpu[t] as number) >= this.needCpu &&
      (this.maxMemory[t] as number) >= this.needMemory &&
      (this.maxGpu[t] as number) >= this.needGpu
    );
  }

  private nodeFits(t: number): boolean {
    return (
      (this.freeCpu[t] as number) >= this.needCpu &&
      (this.freeMemory[t] as number) >= this.needMemory &&
      (this.freeGpu[t] as number) >= this.needGpu &&
      this.blocked[t] === 0
    );
  }

  /** The first node in key order with key >= `low` that fits the request. */
  private firstFit(t: number, low: number): number {
    if (t === NONE || !this.subtreeMayFit(t)) return NONE;
    if ((this.key[t] as number) < low) return this.firstFit(this.right[t] as number, low);
    const found = this.firstFit(this.left[t] as number, low);
    if (found !== NONE) return found;
    if (this.nodeFits(t)) return t;
    return this.firstFit(this.right[t] as number, low);
  }

  /** The last node in key order that fits the request. */
  private lastFit(t: number): number {
    if (t === NONE || !this.subtreeMayFit(t)) return NONE;
    const found = this.lastFit(this.right[t] as number);
    if (found !== NONE) return found;
    if (this.nodeFits(t)) return t;
    return this.lastFit(this.left[t] as number);
  }

  private need(cpu: number, memory: number, gpu: number): void {
    this.needCpu = cpu;
    this.needMemory = memory;
    this.needGpu = gpu;
  }

  /**
   * The fitting node with the LEAST key (first position on ties), or -1.
   * `low` is a lower bound on the key of any fitting node (the request's own
   * amount of the metric; -Infinity when the key is not an amount).
   */
  leastFree(cpu: number, memory: number, gpu: number, low: number): number {
    this.need(cpu, memory, gpu);
    return this.firstFit(this.root, low);
  }

  /** The fitting node with the MOST key (first position on ties), or -1. */
  mostFree(cpu: number, memory: number, gpu: number): number {
    this.need(cpu, memory, gpu);
    const last = this.lastFit(this.root);
    if (last === NONE) return NONE;
    // lastFit finds the largest free amount; among nodes with exactly that amount, take the first position.
    return this.firstFit(this.root, this.key[last] as number);
  }
}
