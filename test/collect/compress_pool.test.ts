// CompressPool with Worker threads, on real pages of the 6.1 sysrq lab dump: each batch comes back equal to the
// inline compression of the same pages, in submission order, and the pool reuses its shared slots (one batch's
// pages and output each) instead of making new memory per batch.
import { describe, expect, test } from "bun:test";
import { CompressPool } from "../../lib/collect/compress_pool.ts";
import { compressBatch, type CompressedBatch } from "../../lib/dump/codecs/batch.ts";
import { dumpPages } from "../dump/_pages.ts";

const PS = 4096;
const BATCH = 64;

describe("CompressPool with 2 threads", () => {
  test("equals inline compression batch by batch, and reuses its slots", async () => {
    const pages = await dumpPages(7); // ~29,000 pages: text, data, page tables, free memory, zeros
    const batches = Math.floor(pages.length / BATCH);
    expect(batches).toBeGreaterThan(100);
    const pool = new CompressPool(2, "zstd", PS, true);
    const pageBuffers = new Set<ArrayBufferLike>();
    const outputs = new Set<ArrayBufferLike>();
    try {
      const queue: { batch: Promise<CompressedBatch>; first: number }[] = [];
      const drain = async () => {
        const q = queue.shift()!;
        const b = await q.batch;
        const job = { pages: concat(pages.slice(q.first, q.first + BATCH)), count: BATCH, pageSize: PS, codec: "zstd" as const, detectZero: true };
        const want = compressBatch(job);
        expect([...b.sizes]).toEqual([...want.sizes]);
        expect([...b.flags]).toEqual([...want.flags]);
        expect(Buffer.compare(Buffer.from(b.data), Buffer.from(want.data))).toBe(0);
        outputs.add(b.data.buffer);
        pool.release(b);
      };
      for (let i = 0; i < batches; i++) {
        const buf = pool.pageBuffer(BATCH * PS);
        pageBuffers.add(buf.buffer);
        buf.set(concat(pages.slice(i * BATCH, (i + 1) * BATCH)));
        queue.push({ batch: pool.submit(buf, BATCH), first: i * BATCH });
        if (queue.length >= pool.depth) await drain();
      }
      while (queue.length) await drain();
      // every page buffer and every answer is a view of one of a few shared slots: the batches in flight, the one
      // being filled, and the answer being written
      expect(pool.slotCount).toBeLessThanOrEqual(pool.depth + 2);
      expect(pageBuffers.size).toBe(pool.slotCount);
      expect([...outputs].every((b) => pageBuffers.has(b))).toBe(true);
      expect(outputs.size).toBe(pool.slotCount);
    } finally {
      pool.close();
    }
  }, 120_000);
});

function concat(list: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.length * PS);
  list.forEach((p, i) => out.set(p, i * PS));
  return out;
}
