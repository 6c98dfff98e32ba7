// The collector's memory forecast (lib/collect/collector_memory.ts): what grows with RAM and by how much, and the
// bitmaps it counts against a real collect of a lab dump.
import { expect, test } from "bun:test";
import { BASE_RAM, COLLECTOR_BITMAPS, collectorMemory, formatCollectorMemory, WORKER_BYTES } from "../../lib/collect/collector_memory.ts";
import { COLLECTOR_MIN_KIB } from "../../lib/initramfs/init.ts";
import { estimateCapture } from "../../lib/boot/sizing.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

test("collectorMemory() is the measured base on a 1 GiB box, and grows by 5 bits per 4 KiB frame beyond it", () => {
  expect(collectorMemory(BASE_RAM)).toEqual({ ram: BASE_RAM, base: COLLECTOR_MIN_KIB * 1024, bitmaps: 0, workers: 0, bytes: COLLECTOR_MIN_KIB * 1024 });
  expect(collectorMemory(512 * MiB).bitmaps).toBe(0);
  const big = collectorMemory(64 * GiB);
  expect(big.bitmaps).toBe(((64 * GiB - GiB) / 4096) * COLLECTOR_BITMAPS / 8);
  // issue 17's bound: at most 16 MB more from a 1 GiB box to a 64 GiB one
  expect(big.bytes - collectorMemory(GiB).bytes).toBeLessThanOrEqual(16e6);
  // without cycles (makedumpfile's cyclic mode, not done yet: issue 17) a 1 TiB box needs ~160 MiB of bitmaps
  expect(Math.round(collectorMemory(1024 * GiB).bitmaps / MiB)).toBe(160);
});

test("collectorMemory() adds a worker's memory per compression thread", () => {
  expect(collectorMemory(GiB, 2).workers).toBe(2 * WORKER_BYTES);
  expect(collectorMemory(GiB, 2).bytes - collectorMemory(GiB, 0).bytes).toBe(2 * WORKER_BYTES);
});

test("formatCollectorMemory() names the RAM and the parts", () => {
  expect(formatCollectorMemory(collectorMemory(64 * GiB, 1))).toBe("~71.8 MiB for 64 GiB of RAM (base 46.0 MiB + bitmaps 9.8 MiB + workers 16.0 MiB)");
});

test("estimateCapture() with the box's RAM puts the collector's forecast in its runtime term", () => {
  const { kernel, initrd } = { kernel: new Uint8Array(4096), initrd: new Uint8Array(4096) };
  const flat = estimateCapture(kernel, initrd);
  const at64 = estimateCapture(kernel, initrd, 64 * GiB);
  expect(flat.runtime).toBe(16 * MiB);
  expect(at64.runtime).toBe(8 * MiB + collectorMemory(64 * GiB).bytes);
  expect(at64.bytes).toBeGreaterThan(flat.bytes);
});
