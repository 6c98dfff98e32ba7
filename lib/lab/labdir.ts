// Where the lab keeps its cache (kernels, guest images, dumps): $KDUMP_LAB_DIR, else .lab/ in the checkout.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

/** The lab cache directory, created 0700 (dumps hold secrets). */
export function labDir(): string {
  const dir = process.env.KDUMP_LAB_DIR ? resolve(process.env.KDUMP_LAB_DIR) : join(import.meta.dir, "..", "..", ".lab");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
