/**
 * A tenant's uploaded bytes per second, per instance (a token bucket per tenant). Storing an
 * upload runs on the event loop that serves HTTP (decoding, hashing, the content row written
 * to SQLite): about 0.7 s for 15 MB here, so a tenant sending large files back to back held
 * every other tenant's requests (retrieve p95 1.5 s while 16 × 15 MB were uploaded, 2 at a time).
 */
export class UploadBytesBudget {
  private readonly buckets = new Map<string, { bytes: number; at: number }>();

  constructor(
    /** refill rate; 0 = no budget */
    private readonly bytesPerSecond: number,
    /** what a tenant at rest may send at once */
    private readonly burstBytes: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes `bytes` from the tenant's budget: 0 when they fit, else the seconds until they would. */
  take(tenantId: string, bytes: number): number {
    if (this.bytesPerSecond === 0) return 0;
    const now = this.now();
    const bucket = this.buckets.get(tenantId) ?? { bytes: this.burstBytes, at: now };
    bucket.bytes = Math.min(this.burstBytes, bucket.bytes + ((now - bucket.at) / 1000) * this.bytesPerSecond);
    bucket.at = now;
    this.buckets.set(tenantId, bucket);
    if (this.buckets.size > 10_000) this.forgetFull(now);
    const needed = Math.min(bytes, this.burstBytes);
    if (bucket.bytes >= needed) {
      bucket.bytes -= needed;
      return 0;
    }
    return (needed - bucket.bytes) / this.bytesPerSecond;
  }

  /** a full bucket is what an unknown tenant gets: drop those */
  private forgetFull(now: number): void {
    for (const [tenantId, bucket] of this.buckets) {
      if (bucket.bytes + ((now - bucket.at) / 1000) * this.bytesPerSecond >= this.burstBytes) this.buckets.delete(tenantId);
    }
  }
}
