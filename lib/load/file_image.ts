// The kernel file kexec_file_load is handed: the file itself (x86_64's bzImage, a plain arm64 Image), or, where the
// architecture's kexec_file_load takes a bare image only (arm64 reads no gzip and no EFI zboot wrapper), the image
// inside, written to a 0600 file in a fresh 0700 folder that is removed once the call returns.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Arch } from "../arch/arch.ts";

/**
 * Runs `fn` with the path kexec_file_load should open for `kernel` on `arch`.
 * @example withFileLoadImage("/boot/vmlinuz-6.12.0-55.el10.aarch64", ARM64, (p) => kexecFileLoad({ kernel: p, … }))
 */
export function withFileLoadImage<T>(kernel: string, arch: Arch, fn: (path: string) => T): T {
  if (!arch.kexecFileImage) return fn(kernel);
  const file = new Uint8Array(readFileSync(kernel));
  const { image } = arch.kexecFileImage(file);
  if (image === file) return fn(kernel);
  const dir = mkdtempSync(join(tmpdir(), "kdump-image-")); // 0700
  try {
    const path = join(dir, "Image");
    writeFileSync(path, image, { mode: 0o600 });
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
