import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BACKGROUND_THREAD_NICE } from '../../common/thread-priority';
import { exactSearch, Index, MetricKind, ScalarKind, type IndexConfig } from 'usearch';
import { matchesMetadataFilter, type MetadataFilter } from '../../common/metadata-filter';

export interface PartitionHit {
  id: string;
  documentId: string;
  score: number;
}

export interface PartitionRow {
  id: string;
  documentId: string;
  /** unit length: inner product = cosine similarity */
  vector: Float32Array;
  metadata?: Record<string, unknown>;
}

/** Partitions at least this large get an HNSW graph; smaller ones are scanned exactly (SIMD, < 1 ms per 5k rows). */
export const DEFAULT_HNSW_THRESHOLD = 20_000;
/**
 * Partitions at least this large are scanned in 8-bit copies first and only the best candidates
 * re-scored in full precision: the f32 scan is memory-bound (5.5k × 512 offline-hash rows:
 * 0.41 ms; the int8 scan 0.16 ms); on SciFact's queries the int8 order's top 75 held every one of
 * the exact top 50.
 */
const QUANTIZED_SCAN_MIN_ROWS = 1_024;
/** candidates re-scored beyond the top k asked for (top 50: 75 candidates already kept recall@50 at 1.0000) */
const QUANTIZED_EXTRA_CANDIDATES = 48;
/** headroom when the largest component grows, so the int8 copies are rarely re-quantized */
const QUANTIZATION_HEADROOM = 1.25;
/** vectors added to a graph per event-loop turn (~0.4 ms each at 384 dimensions on 2 cores) */
const GRAPH_SLICE = 32;
/**
 * A graph missing more rows than this is (re)built from a snapshot in a worker thread rather than
 * caught up a slice per event-loop turn: at 86k × 512 under load the slices took minutes.
 */
const WORKER_BUILD_MIN_ROWS = 2_000;
/** a worker build starts once writes have paused this long, or MAX_BUILD_DELAY_MS after the threshold was crossed */
const WRITE_PAUSE_MS = 200;
const MAX_BUILD_DELAY_MS = 5_000;
/** the prefix of a graph file a worker hands over; leftovers of a crash are removed at start-up */
export const GRAPH_FILE_PREFIX = 'hnsw-build-';

/**
 * 8-bit graph vectors and a build beam of 64; the graph's top k + GRAPH_EXTRA_CANDIDATES are
 * re-scored in full precision. On the 86k offline-hash vectors (512 dims) of bench:retrieve
 * `--chunks 100000`, one thread, 300 SciFact queries, top 50: half precision 324 µs per search,
 * 8-bit 183 µs with 80 candidates, for the same recall@50 against the exact scan (0.761 vs 0.767;
 * the corpus is 16 near-copies of SciFact, so ties between copies cap it) and the same sum of
 * scores kept (0.983 vs 0.984 of the exact top 50 on 20k rows); the build is 1.7× faster and the
 * graph half the size.
 */
const GRAPH_OPTIONS = (dimensions: number): IndexConfig => ({
  dimensions,
  metric: MetricKind.IP,
  connectivity: 16,
  expansion_add: 64,
  // ≥ the top 100 that hybrid retrieval asks for, so its recall stays high
  expansion_search: 128,
  quantization: ScalarKind.I8,
  multi: false,
});

/** graph candidates re-scored beyond the top k asked for: the 8-bit order is only approximate */
const GRAPH_EXTRA_CANDIDATES = 16;

/** builds a graph from a snapshot on another thread and saves it for the partition to load */
const GRAPH_BUILD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
// a background build yields the cores to the threads that answer searches (common/thread-priority.ts)
try {
  require('node:os').setPriority(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()), workerData.nice);
} catch {}
const { Index } = require(workerData.usearch);
const graph = new Index(workerData.options);
graph.add(workerData.keys, workerData.vectors, 1);
graph.save(workerData.file);
parentPort.postMessage('saved');
`;

/**
 * The vectors of one (tenant, KB) in one collection, as one contiguous matrix: a filter on tenant
 * and KB is the choice of partition, so no query ever scans another tenant's rows. Deleting a row
 * moves the last row into its place, so the matrix stays dense.
 *
 * Search is a SIMD scan (usearch `exactSearch`; from 1,024 rows over int8 copies, the best
 * k + 48 re-scored in full precision) until the partition reaches the HNSW threshold; from then
 * on an HNSW graph is kept up to date in the background and used whenever it has caught up with
 * every write (the scan otherwise).
 */
export class VectorPartition {
  private matrix: Float32Array;
  /** int8 copy of `matrix` at `quantizationScale` (127 / the largest component seen, with headroom) */
  private quantized: Int8Array;
  private quantizationScale = 0;
  private size = 0;
  private readonly ids: string[] = [];
  private readonly documentIds: string[] = [];
  private readonly metadata: (Record<string, unknown> | undefined)[] = [];
  /** graph key of each row; a rewritten vector gets a new key */
  private readonly labels: number[] = [];
  private readonly rowById = new Map<string, number>();
  private readonly rowByLabel = new Map<number, number>();
  private graph: Index | undefined;
  private pendingLabels: number[] = [];
  private building = false;
  private disposed = false;
  /** the graph being built from a snapshot on a worker thread, if any */
  private worker: Worker | undefined;
  /** a worker build failed once: this partition builds on the event loop from then on */
  private workerFailed = false;
  /** a worker build waits for writes to pause */
  private workerBuildDue = false;
  private lastWriteAt = 0;
  /** how the last graph was built: on a worker thread, or a slice per event-loop turn */
  private lastBuild: 'worker' | 'event-loop' | undefined;

  /**
   * @param graphDirectory where a worker thread hands a built graph over (the store's data
   *   directory); without one, graphs are built a slice per event-loop turn
   */
  constructor(
    private readonly dimension: number,
    private readonly nextLabel: () => number,
    private readonly hnswThreshold = DEFAULT_HNSW_THRESHOLD,
    private readonly graphDirectory?: string,
  ) {
    this.matrix = new Float32Array(16 * dimension);
    this.quantized = new Int8Array(16 * dimension);
  }

  /** makes room for this many rows at once, so loading a large partition does not copy it log(n) times */
  reserve(rows: number): void {
    if (this.matrix.length >= rows * this.dimension) return;
    const bigger = new Float32Array(rows * this.dimension);
    bigger.set(this.matrix.subarray(0, this.size * this.dimension));
    this.matrix = bigger;
    const biggerQuantized = new Int8Array(rows * this.dimension);
    biggerQuantized.set(this.quantized.subarray(0, this.size * this.dimension));
    this.quantized = biggerQuantized;
  }

  get count(): number {
    return this.size;
  }

  has(id: string): boolean {
    return this.rowById.has(id);
  }

  /** whether the HNSW graph serves searches right now (for tests and diagnostics) */
  get usesGraph(): boolean {
    return this.graph !== undefined && this.pendingLabels.length === 0 && this.worker === undefined;
  }

  /** how the current graph was built (for tests and diagnostics) */
  get graphBuild(): 'worker' | 'event-loop' | undefined {
    return this.lastBuild;
  }

  upsert(row: PartitionRow): void {
    let index = this.rowById.get(row.id);
    if (index === undefined) {
      index = this.size++;
      if (this.matrix.length < this.size * this.dimension) this.grow();
      this.rowById.set(row.id, index);
      this.ids[index] = row.id;
    } else {
      this.forgetLabel(index);
    }
    this.matrix.set(row.vector, index * this.dimension);
    this.quantizeRow(index);
    this.documentIds[index] = row.documentId;
    this.metadata[index] = row.metadata;
    const label = this.nextLabel();
    this.labels[index] = label;
    this.rowByLabel.set(label, index);
    if (this.graph || this.size >= this.hnswThreshold) this.scheduleGraph(label);
  }

  remove(id: string): boolean {
    const index = this.rowById.get(id);
    if (index === undefined) return false;
    this.forgetLabel(index);
    this.rowById.delete(id);
    const last = --this.size;
    if (index !== last) {
      this.matrix.copyWithin(index * this.dimension, last * this.dimension, (last + 1) * this.dimension);
      this.quantized.copyWithin(index * this.dimension, last * this.dimension, (last + 1) * this.dimension);
      this.ids[index] = this.ids[last];
      this.documentIds[index] = this.documentIds[last];
      this.metadata[index] = this.metadata[last];
      this.labels[index] = this.labels[last];
      this.rowById.set(this.ids[index], index);
      this.rowByLabel.set(this.labels[index], index);
    }
    this.ids.length = this.documentIds.length = this.metadata.length = this.labels.length = last;
    return true;
  }

  idsOfDocument(documentId: string): string[] {
    return this.ids.filter((_, row) => this.documentIds[row] === documentId);
  }

  search(query: Float32Array, topK: number, filter?: MetadataFilter): PartitionHit[] {
    if (this.size === 0 || topK <= 0) return [];
    if (this.usesGraph) {
      const found = this.searchGraph(query, topK, filter);
      if (found) return found;
    }
    return this.searchExact(query, topK, filter);
  }

  /** stops background graph work; the partition must not be used afterwards */
  dispose(): void {
    this.disposed = true;
    this.pendingLabels = [];
    this.graph = undefined;
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private searchExact(query: Float32Array, topK: number, filter?: MetadataFilter): PartitionHit[] {
    let rows: number[] | undefined;
    if (filter) {
      rows = [];
      for (let row = 0; row < this.size; row++) if (matchesMetadataFilter(this.metadata[row], filter)) rows.push(row);
      if (rows.length === 0) return [];
    }
    const rowCount = rows ? rows.length : this.size;
    const wanted = Math.min(topK, rowCount);
    const candidates = Math.min(rowCount, topK + QUANTIZED_EXTRA_CANDIDATES);
    if (rowCount < QUANTIZED_SCAN_MIN_ROWS || candidates >= rowCount) {
      const found = exactSearch(this.rowsOf(this.matrix, rows), query, this.dimension, wanted, MetricKind.IP, 1);
      return Array.from(found.keys, (key, i) => this.hit(rows ? rows[Number(key)] : Number(key), found.distances[i]));
    }
    const found = exactSearch(this.rowsOf(this.quantized, rows), this.quantizeQuery(query), this.dimension, candidates, MetricKind.IP, 1);
    // re-score the candidates in full precision where they lie (copying them out for another SIMD
    // scan cost more than these few hundred thousand multiply-adds)
    const matrix = this.matrix;
    const dimension = this.dimension;
    const rescored: { row: number; score: number }[] = [];
    for (let i = 0; i < found.keys.length; i++) {
      const row = rows ? rows[Number(found.keys[i])] : Number(found.keys[i]);
      const offset = row * dimension;
      let dot = 0;
      for (let j = 0; j < dimension; j++) dot += query[j] * matrix[offset + j];
      rescored.push({ row, score: dot });
    }
    rescored.sort((a, b) => b.score - a.score);
    return rescored.slice(0, wanted).map(({ row, score }) => this.hit(row, 1 - score));
  }

  /** the first `size` rows of a matrix, or the given rows copied into a new one */
  private rowsOf<T extends Float32Array | Int8Array>(matrix: T, rows: readonly number[] | undefined): T {
    const dimension = this.dimension;
    if (!rows) return matrix.subarray(0, this.size * dimension) as T;
    const gathered = new (matrix.constructor as new (length: number) => T)(rows.length * dimension);
    rows.forEach((row, i) => gathered.set(matrix.subarray(row * dimension, (row + 1) * dimension), i * dimension));
    return gathered;
  }

  /** writes the int8 copy of a row, re-quantizing every row first if it holds a larger component than the scale allows */
  private quantizeRow(row: number): void {
    const offset = row * this.dimension;
    let largest = 0;
    for (let i = 0; i < this.dimension; i++) largest = Math.max(largest, Math.abs(this.matrix[offset + i]));
    if (largest === 0) {
      this.quantized.fill(0, offset, offset + this.dimension);
      return;
    }
    if (this.quantizationScale === 0 || largest * this.quantizationScale > 127) {
      this.quantizationScale = 127 / (largest * QUANTIZATION_HEADROOM);
      for (let other = 0; other < this.size; other++) if (other !== row) this.writeQuantized(other);
    }
    this.writeQuantized(row);
  }

  private writeQuantized(row: number): void {
    const offset = row * this.dimension;
    const scale = this.quantizationScale;
    for (let i = offset; i < offset + this.dimension; i++) this.quantized[i] = Math.round(this.matrix[i] * scale);
  }

  /** the query at its own scale: only the order of inner products matters for choosing candidates */
  private quantizeQuery(query: Float32Array): Int8Array {
    let largest = 0;
    for (let i = 0; i < query.length; i++) largest = Math.max(largest, Math.abs(query[i]));
    const quantized = new Int8Array(query.length);
    if (largest === 0) return quantized;
    const scale = 127 / largest;
    for (let i = 0; i < query.length; i++) quantized[i] = Math.round(query[i] * scale);
    return quantized;
  }

  /**
   * HNSW search; with a metadata filter, asks for more neighbours until enough pass it. Returns
   * undefined when the filter is too selective for the graph, so the caller scans exactly.
   */
  private searchGraph(query: Float32Array, topK: number, filter?: MetadataFilter): PartitionHit[] | undefined {
    const graph = this.graph!;
    const candidates = topK + GRAPH_EXTRA_CANDIDATES;
    for (let wanted = filter ? Math.max(topK * 4, 64) : candidates; ; wanted *= 4) {
      const found = graph.search(query, Math.min(wanted, this.size), 1);
      const hits: PartitionHit[] = [];
      for (let i = 0; i < found.keys.length && hits.length < candidates; i++) {
        const row = this.rowByLabel.get(Number(found.keys[i]));
        if (row === undefined || !matchesMetadataFilter(this.metadata[row], filter)) continue;
        // the graph holds 8-bit copies: score from the full-precision row, as the scan does
        hits.push(this.hit(row, 1 - this.dot(query, row)));
      }
      hits.sort((a, b) => b.score - a.score);
      if (hits.length >= topK || found.keys.length >= this.size) return hits.slice(0, topK);
      if (wanted >= 4096) return undefined;
    }
  }

  private dot(query: Float32Array, row: number): number {
    const offset = row * this.dimension;
    let sum = 0;
    for (let i = 0; i < this.dimension; i++) sum += query[i] * this.matrix[offset + i];
    return sum;
  }

  private hit(row: number, distance: number): PartitionHit {
    // usearch's inner-product distance is 1 - dot; vectors are unit length, so 1 - distance is the cosine
    return { id: this.ids[row], documentId: this.documentIds[row], score: 1 - distance };
  }

  private grow(): void {
    const bigger = new Float32Array(Math.max(this.matrix.length * 2, this.size * this.dimension));
    bigger.set(this.matrix);
    this.matrix = bigger;
    const biggerQuantized = new Int8Array(bigger.length);
    biggerQuantized.set(this.quantized);
    this.quantized = biggerQuantized;
  }

  private forgetLabel(row: number): void {
    const label = this.labels[row];
    this.rowByLabel.delete(label);
    if (this.graph?.contains(BigInt(label))) this.graph.remove(BigInt(label));
  }

  private scheduleGraph(label: number): void {
    this.pendingLabels.push(label);
    // rows written while a worker builds are added once its graph is loaded
    if (this.worker) return;
    // a first graph, or a burst of writes, is built from a snapshot on a worker thread
    const viaWorker =
      this.graphDirectory !== undefined && !this.workerFailed && (!this.graph || this.pendingLabels.length >= WORKER_BUILD_MIN_ROWS);
    if (viaWorker) {
      this.lastWriteAt = performance.now();
      if (!this.workerBuildDue) {
        this.workerBuildDue = true;
        this.startWorkerBuildWhenWritesPause(performance.now());
      }
      return;
    }
    // a new graph must hold every row, not only the one that crossed the threshold
    this.buildOnEventLoop(this.graph ? this.pendingLabels : this.labels.slice(0, this.size));
  }

  /** adds these rows to the graph (a new one if there is none) a slice per event-loop turn */
  private buildOnEventLoop(labels: number[]): void {
    if (!this.graph) {
      this.graph = new Index(GRAPH_OPTIONS(this.dimension));
      this.lastBuild = 'event-loop';
    }
    this.pendingLabels = labels;
    if (!this.building) {
      this.building = true;
      setImmediate(() => this.buildSlice());
    }
  }

  /**
   * Starts the worker once writes pause for a moment (a bulk load or an ingestion burst ends up in
   * the snapshot rather than in a long pending list), but never later than a few seconds.
   */
  private startWorkerBuildWhenWritesPause(since: number): void {
    setTimeout(() => {
      const now = performance.now();
      if (!this.disposed && now - this.lastWriteAt < WRITE_PAUSE_MS && now - since < MAX_BUILD_DELAY_MS) {
        this.startWorkerBuildWhenWritesPause(since);
        return;
      }
      this.workerBuildDue = false;
      this.startWorkerBuild();
    }, WRITE_PAUSE_MS).unref();
  }

  /** snapshot of every row to a worker thread, which builds the whole graph and saves it to a file */
  private startWorkerBuild(): void {
    if (this.disposed || this.worker || this.size === 0) return;
    const labels = this.labels.slice(0, this.size);
    const vectors = this.matrix.slice(0, this.size * this.dimension);
    const file = join(this.graphDirectory!, `${GRAPH_FILE_PREFIX}${randomUUID()}.usearch`);
    this.pendingLabels = [];
    const worker = new Worker(GRAPH_BUILD_WORKER, {
      eval: true,
      workerData: {
        usearch: require.resolve('usearch'),
        options: GRAPH_OPTIONS(this.dimension),
        keys: BigUint64Array.from(labels, (label) => BigInt(label)),
        vectors,
        file,
        nice: BACKGROUND_THREAD_NICE,
      },
    });
    this.worker = worker;
    worker.unref();
    const settle = (saved: boolean) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      void worker.terminate();
      if (!this.disposed && saved) {
        try {
          this.adoptGraph(file, labels);
        } catch {
          // an unreadable hand-over file (disk full, say) must not escape into the event loop
          saved = false;
        }
      }
      rmSync(file, { force: true });
      if (this.disposed) return;
      if (!saved) {
        // the worker failed (e.g. out of memory): fall back to building on the event loop
        this.graph = undefined;
        this.workerFailed = true;
      }
      this.catchUp(saved ? this.pendingLabels : this.labels.slice(0, this.size));
    };
    worker.once('message', () => settle(true));
    worker.once('error', () => settle(false));
    worker.once('exit', () => settle(false));
  }

  /** the worker's graph, minus the rows removed or rewritten while it was built */
  private adoptGraph(file: string, snapshotLabels: number[]): void {
    const graph = new Index(GRAPH_OPTIONS(this.dimension));
    graph.load(file);
    for (const label of snapshotLabels) if (!this.rowByLabel.has(label)) graph.remove(BigInt(label));
    this.graph = graph;
    this.lastBuild = 'worker';
  }

  /** adds what the graph lacks: a few rows a slice per turn, many by a new worker build */
  private catchUp(labels: number[]): void {
    const missing = labels.filter((label) => this.rowByLabel.has(label));
    this.pendingLabels = [];
    if (missing.length === 0) return;
    if (this.graphDirectory && !this.workerFailed && missing.length >= WORKER_BUILD_MIN_ROWS) {
      this.graph = undefined;
      this.startWorkerBuild();
      return;
    }
    this.buildOnEventLoop(missing);
  }

  private buildSlice(): void {
    // a worker took over (its snapshot holds every row): stop adding here
    if (this.disposed || !this.graph || this.worker || this.workerBuildDue) {
      this.building = false;
      return;
    }
    const slice = this.pendingLabels.splice(0, GRAPH_SLICE).filter((label) => this.rowByLabel.has(label));
    if (slice.length > 0) {
      const vectors = new Float32Array(slice.length * this.dimension);
      slice.forEach((label, i) => {
        const row = this.rowByLabel.get(label)!;
        vectors.set(this.matrix.subarray(row * this.dimension, (row + 1) * this.dimension), i * this.dimension);
      });
      this.graph.add(
        BigUint64Array.from(slice, (label) => BigInt(label)),
        vectors,
        1,
      );
    }
    if (this.pendingLabels.length > 0) setImmediate(() => this.buildSlice());
    else this.building = false;
  }
}
