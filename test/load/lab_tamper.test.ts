// KDUMP_LAB_TAMPER_SEGMENT, the lab-only switch that corrupts a kexec_load segment after the purgatory's digest was
// taken (test/arch/arm64/purgatory_tamper.test.ts boots it): refused outside a lab guest, and what it changes.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { arm64Purgatory, regionsDigest } from "../../lib/arch/arm64/purgatory.ts";
import type { CrashImage, CrashSegment } from "../../lib/arch/x86_64/crash_image.ts";
import { UsageError } from "../../lib/errors.ts";
import { LAB_MARKER, labTamper } from "../../lib/load/lab_tamper.ts";

const lab = mkdtempSync(join(tmpdir(), "lab-tamper-"));
mkdirSync(join(lab, "run/lab"), { recursive: true });
writeFileSync(join(lab, LAB_MARKER), "");
afterAll(() => rmSync(lab, { recursive: true, force: true }));

function plan(): CrashImage {
  const segments: CrashSegment[] = [
    { name: "kernel", data: new Uint8Array([1, 2, 3]), mem: 0x60200000n, memsz: 4096 },
    { name: "elfcorehdr", data: new Uint8Array([4, 5, 6]), mem: 0x61000000n, memsz: 4096 },
  ];
  const regions = segments.map((s) => ({ addr: s.mem, data: s.data }));
  segments.push({ name: "purgatory", data: arm64Purgatory({ kernel: 0x60200000n, dtb: 0n, uart: null, regions }), mem: 0x62000000n, memsz: 8192 });
  return { entry: 0x62000000n, segments, cmdline: "", elfcorehdr: 0x61000000n };
}

test("labTamper() leaves the plan alone without KDUMP_LAB_TAMPER_SEGMENT", () => {
  const p = plan();
  expect(labTamper(p, {}, lab)).toBe(p);
});

test("labTamper() refuses outside a lab guest, saying to unset it", () => {
  expect(() => labTamper(plan(), { KDUMP_LAB_TAMPER_SEGMENT: "kernel" }, join(lab, "nowhere"))).toThrow(UsageError);
  expect(() => labTamper(plan(), { KDUMP_LAB_TAMPER_SEGMENT: "kernel" }, join(lab, "nowhere"))).toThrow(`lab guests only (no ${LAB_MARKER} here)`);
});

test("labTamper() inverts the named segment's last byte in a copy, so the purgatory's stored SHA-256 no longer matches", () => {
  const p = plan();
  const t = labTamper(p, { KDUMP_LAB_TAMPER_SEGMENT: "elfcorehdr" }, lab);
  expect([...t.segments[1]!.data]).toEqual([4, 5, 6 ^ 0xff]);
  expect([...p.segments[1]!.data]).toEqual([4, 5, 6]); // the plan it was given is unchanged
  expect(t.segments[0]).toBe(p.segments[0]!);
  const stored = Buffer.from(t.segments[2]!.data.subarray(8 + 0x28, 8 + 0x48)).toString("hex");
  expect(Buffer.from(regionsDigest(p.segments.slice(0, 2))).toString("hex")).toBe(stored);
  expect(Buffer.from(regionsDigest(t.segments.slice(0, 2))).toString("hex")).not.toBe(stored);
});

test("labTamper() refuses the purgatory (it is not checked) and an unknown segment, naming the ones it can", () => {
  expect(() => labTamper(plan(), { KDUMP_LAB_TAMPER_SEGMENT: "purgatory" }, lab)).toThrow("names no segment the purgatory checks");
  expect(() => labTamper(plan(), { KDUMP_LAB_TAMPER_SEGMENT: "initrd" }, lab)).toThrow(UsageError);
  const thrown = (() => {
    try {
      labTamper(plan(), { KDUMP_LAB_TAMPER_SEGMENT: "initrd" }, lab);
    } catch (e) {
      return e as UsageError;
    }
  })();
  expect(thrown?.hint).toBe("one of kernel, elfcorehdr");
});
