// A fake box for the service verbs: a scratch tree as its root (/etc, /boot, /var), /proc and /sys as a map through
// the capture verbs' fake host, and systemctl calls recorded. Nothing reaches this machine's kernel or init.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ServiceHost, RunResult } from "../../lib/service/host.ts";
import { fakeHost, type FakeHost } from "../load/_fakehost.ts";

export const RELEASE = "6.1.0-57-cloud-amd64";

/** A fake box and what it recorded. */
export interface FakeBox extends ServiceHost {
  sys: FakeHost;
  /** Commands run, as strings. */
  commands: string[];
  /** Writes a file under the root. */
  file(path: string, text: string | Uint8Array, mode?: number): void;
  /** Removes the scratch tree. */
  remove(): void;
}

/**
 * A box with everything the service needs (root, kexec, 256 MiB reserved, a static busybox, the kernel image and
 * modules, systemd running) unless `o` takes something away; `loaded` says whether a capture kernel is loaded.
 */
export function fakeBox(o: { loaded?: boolean; files?: Record<string, string>; busybox?: boolean; systemd?: boolean; uid?: number; answer?: (argv: string[]) => RunResult } = {}): FakeBox {
  const root = mkdtempSync(join(tmpdir(), "kdump-svc-"));
  const proc: Record<string, string> = {
    "/proc/sys/kernel/osrelease": `${RELEASE}\n`,
    "/proc/sys/kernel/random/boot_id": "boot-1\n",
    "/sys/kernel/kexec_crash_loaded": o.loaded ? "1\n" : "0\n",
    "/sys/kernel/kexec_crash_size": "268435456\n",
    ...o.files,
  };
  const box: FakeBox = {
    root,
    sys: fakeHost(proc, { uid: o.uid ?? 0, answer: null }),
    commands: [],
    run(argv) {
      box.commands.push(argv.join(" "));
      return o.answer?.(argv) ?? { code: 0, output: "" };
    },
    now: () => 1_796_000_000,
    file(path, text, mode = 0o644) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text, { mode });
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
  if (o.busybox !== false) {
    mkdirSync(join(root, "bin"), { recursive: true });
    copyFileSync("/bin/busybox", join(root, "bin/busybox"));
  }
  box.file(`/boot/vmlinuz-${RELEASE}`, "not a real kernel");
  mkdirSync(join(root, "lib/modules", RELEASE), { recursive: true });
  if (o.systemd !== false) mkdirSync(join(root, "run/systemd/system"), { recursive: true });
  return box;
}

/** Installs Debian's kdump-tools unit on the box, enabled (the wants link systemctl enable makes) or not. */
export function installKdumpTools(box: FakeBox, enabled: boolean): void {
  box.file("/lib/systemd/system/kdump-tools.service", "[Unit]\nDescription=Kernel crash dump capture service\n");
  box.file("/etc/default/kdump-tools", "USE_KDUMP=1\nKDUMP_COREDIR=/var/crash/debian\n");
  if (enabled) {
    mkdirSync(join(box.root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
    symlinkSync("/lib/systemd/system/kdump-tools.service", join(box.root, "etc/systemd/system/multi-user.target.wants/kdump-tools.service"));
  }
}

/** The one line the CLI would print for what `f` throws (message and hint), or "" when it does not throw. */
export function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    const { errorLine } = require("../../lib/errors.ts") as typeof import("../../lib/errors.ts");
    return errorLine(e);
  }
  return "";
}
