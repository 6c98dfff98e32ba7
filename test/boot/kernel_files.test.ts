// installedKernel() in both layouts, on folders laid out as Debian 6.x (/boot) and Debian 7.x / Fedora
// (kernel-install's /usr/lib/modules/R/vmlinuz) install a kernel.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installedKernel } from "../../lib/boot/kernel_files.ts";
import { kexecFileConfig } from "../../lib/boot/status.ts";

let root: string;
beforeEach(() => void (root = mkdtempSync(join(tmpdir(), "kernel-files-"))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

function put(path: string, text = "x") {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), text);
}

test("installedKernel() finds /boot/vmlinuz-R and /boot/config-R (Debian up to 6.x)", () => {
  put("/boot/vmlinuz-6.1.0-57-cloud-amd64");
  put("/boot/config-6.1.0-57-cloud-amd64", "CONFIG_KEXEC_FILE=y\n");
  mkdirSync(join(root, "lib/modules/6.1.0-57-cloud-amd64"), { recursive: true });
  expect(installedKernel("6.1.0-57-cloud-amd64", root)).toEqual({
    vmlinuz: "/boot/vmlinuz-6.1.0-57-cloud-amd64",
    config: "/boot/config-6.1.0-57-cloud-amd64",
    modulesDir: "/lib/modules/6.1.0-57-cloud-amd64",
  });
});

test("installedKernel() finds /usr/lib/modules/R/vmlinuz and its config (Debian 7.x, Fedora), and status reads that config", () => {
  const r = "7.2.13+deb14-cloud-amd64";
  put(`/usr/lib/modules/${r}/vmlinuz`);
  put(`/usr/lib/modules/${r}/config`, "CONFIG_KEXEC_FILE=y\n");
  expect(installedKernel(r, root)).toEqual({ vmlinuz: `/usr/lib/modules/${r}/vmlinuz`, config: `/usr/lib/modules/${r}/config`, modulesDir: `/usr/lib/modules/${r}` });
  expect(kexecFileConfig(root, r)).toEqual({ value: true, source: `/usr/lib/modules/${r}/config` });
});

test("installedKernel() says null when neither layout has the image", () => {
  expect(installedKernel("9.9.9", root)).toEqual({ vmlinuz: null, config: null, modulesDir: "/lib/modules/9.9.9" });
});
