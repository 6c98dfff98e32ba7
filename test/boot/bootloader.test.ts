import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { applyBootPlan, configuredCrashkernel, detectBootloader, planBoot, planDiff } from "../../lib/boot/bootloader.ts";
import { formatCrashkernel, parseCrashkernel } from "../../lib/boot/crashkernel.ts";
import { ConfigSyntaxError } from "../../lib/boot/parse_error.ts";
import { KdumpError } from "../../lib/errors.ts";

// Tests that run sh, patch or bun, or fetch Debian's packages on first use (apt-get download): slower than Bun's
// 5 s default on a loaded 2-CPU machine.
const SLOW = 60000;

// Fedora's files are not in the Debian registry: these fixtures are written by hand after a Fedora 41 /
// RHEL 10 install (anaconda's /etc/default/grub, a kernel's BLS entry and the rescue entry).
const FEDORA_GRUB = `GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR="$(sed 's, release .*$,,g' /etc/system-release)"
GRUB_DEFAULT=saved
GRUB_DISABLE_SUBMENU=true
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="crashkernel=2G-64G:256M,64G-:512M resume=UUID=1c320fec-3274-4b5b-9adf-a0642e7943c0 rhgb quiet"
GRUB_DISABLE_RECOVERY="true"
GRUB_ENABLE_BLSCFG=true
`;
const MID = "e986846f63134c7295458cf36300ba5b";
const entry = (v: string, options: string) => `title Fedora Linux (${v}) 41 (Server Edition)
version ${v}
linux /vmlinuz-${v}
initrd /initramfs-${v}.img
options ${options}
grub_users $grub_users
grub_arg --unrestricted
grub_class fedora
`;
const OPTS = "root=UUID=c8fcb11a-0f2f-48e5-a067-4cec1d18a721 ro crashkernel=2G-64G:256M,64G-:512M resume=UUID=1c320fec-3274-4b5b-9adf-a0642e7943c0 rhgb quiet";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "boot-"));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

const fedora = (extra: Record<string, string> = {}) =>
  tree({
    "/etc/default/grub": FEDORA_GRUB,
    [`/boot/loader/entries/${MID}-6.12.0-55.fc41.x86_64.conf`]: entry("6.12.0-55.fc41.x86_64", OPTS),
    [`/boot/loader/entries/${MID}-0-rescue.conf`]: entry("0-rescue-" + MID, OPTS),
    "/proc/cmdline": `BOOT_IMAGE=(hd0,gpt2)/vmlinuz-6.12.0-55.fc41.x86_64 ${OPTS}\n`,
    ...extra,
  });

const V256 = [parseCrashkernel("256M")];
const noRun = async () => {
  throw new Error("no command expected");
};

describe("Fedora/RHEL GRUB with BLS entries", () => {
  test("without grubby: edits every entry's options and GRUB_CMDLINE_LINUX, idempotently", async () => {
    const root = fedora();
    try {
      expect(detectBootloader(root).kind).toBe("grub-bls");
      expect(configuredCrashkernel(root).map((w) => formatCrashkernel(w.arg))).toEqual(["2G-64G:256M,64G-:512M"]);
      const plan = planBoot(V256, root);
      expect(plan.changes.map((c) => c.path)).toEqual(["/etc/default/grub", `/boot/loader/entries/${MID}-0-rescue.conf`, `/boot/loader/entries/${MID}-6.12.0-55.fc41.x86_64.conf`]);
      expect(plan.commands).toEqual([]);
      expect(planDiff(plan)).toContain(`+options ${OPTS.replace("crashkernel=2G-64G:256M,64G-:512M", "crashkernel=256M")}\n`);
      await applyBootPlan(plan, noRun);
      expect(configuredCrashkernel(root).map((w) => formatCrashkernel(w.arg))).toEqual(["256M"]);
      expect(readFileSync(join(root, "etc/default/grub"), "utf8")).toContain('GRUB_CMDLINE_LINUX="crashkernel=256M resume=');
      expect(planBoot(V256, root).preview).toEqual([]);
      await applyBootPlan(planBoot([], root), noRun);
      expect(configuredCrashkernel(root)).toEqual([]);
      expect(readFileSync(join(root, `boot/loader/entries/${MID}-6.12.0-55.fc41.x86_64.conf`), "utf8")).toContain(`options ${OPTS.replace(" crashkernel=2G-64G:256M,64G-:512M", "")}\n`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, SLOW);

  test("with grubby: runs `grubby --update-kernel=ALL --args=…` (under chroot for --root) and previews its edits", async () => {
    const root = fedora({ "/usr/sbin/grubby": "#!/bin/sh\n" });
    try {
      const plan = planBoot([parseCrashkernel("1G,high"), parseCrashkernel("256M,low")], root);
      expect(plan.changes.map((c) => c.path)).toEqual(["/etc/default/grub"]);
      expect(plan.preview.length).toBe(3);
      expect(plan.commands).toEqual([["grubby", "--update-kernel=ALL", "--args=crashkernel=1G,high crashkernel=256M,low"]]);
      const ran: string[][] = [];
      await applyBootPlan(plan, async (c) => void ran.push(c));
      expect(ran).toEqual([["chroot", root, "grubby", "--update-kernel=ALL", "--args=crashkernel=1G,high crashkernel=256M,low"]]);
      expect(planBoot([], root).commands).toEqual([["grubby", "--update-kernel=ALL", "--remove-args=crashkernel"]]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, SLOW);

  test("adds an options line to an entry without one, and notes RHEL 8's $kernelopts", () => {
    const root = fedora({
      [`/boot/loader/entries/${MID}-4.18.0-553.el8_10.x86_64.conf`]: entry("4.18.0-553.el8_10.x86_64", "$kernelopts $tuned_params"),
      [`/boot/loader/entries/${MID}-memtest.conf`]: "title Memtest86+\r\nlinux /memtest.bin\r\n",
    });
    try {
      const plan = planBoot(V256, root);
      const by = (s: string) => plan.changes.find((c) => c.path.includes(s))!.after;
      expect(by("el8_10")).toContain("options $kernelopts $tuned_params crashkernel=256M\n");
      expect(by("memtest")).toBe("title Memtest86+\r\nlinux /memtest.bin\r\noptions crashkernel=256M\r\n");
      expect(plan.notes.join("\n")).toContain("$kernelopts");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("a malformed crashkernel= in an entry is refused with its file, line and column", () => {
    const root = fedora({ [`/boot/loader/entries/${MID}-bad.conf`]: "title x\noptions ro crashkernel=256Mx\n" });
    try {
      expect(() => planBoot(V256, root)).toThrow(ConfigSyntaxError);
      expect(() => planBoot(V256, root)).toThrow(`/boot/loader/entries/${MID}-bad.conf:2:28: crashkernel=256Mx: unexpected "x"`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("systemd-boot", () => {
  test("creates /etc/kernel/cmdline from /proc/cmdline, edits the entries, and notes UKIs", async () => {
    const root = tree({
      "/boot/efi/loader/loader.conf": "timeout 3\n",
      [`/boot/efi/loader/entries/${MID}-6.12.117.conf`]: `title Debian\nlinux /${MID}/6.12.117/linux\noptions root=/dev/vda1 ro quiet\n`,
      "/boot/efi/EFI/Linux/debian-6.12.117.efi": "UKI",
      "/proc/cmdline": "BOOT_IMAGE=/vmlinuz initrd=\\initrd.img root=/dev/vda1 ro quiet\n",
    });
    try {
      expect(detectBootloader(root)).toEqual({ kind: "systemd-boot", evidence: "/boot/efi/loader/loader.conf exists" });
      const plan = planBoot(V256, root);
      expect(plan.changes.map((c) => [c.path, c.before === null, c.after])).toEqual([
        ["/etc/kernel/cmdline", true, "root=/dev/vda1 ro quiet crashkernel=256M\n"],
        [`/boot/efi/loader/entries/${MID}-6.12.117.conf`, false, `title Debian\nlinux /${MID}/6.12.117/linux\noptions root=/dev/vda1 ro quiet crashkernel=256M\n`],
      ]);
      expect(plan.notes.join("\n")).toContain("unified kernel images");
      await applyBootPlan(plan, noRun);
      expect(planBoot(V256, root).preview).toEqual([]);
      expect(planBoot([], root).changes.map((c) => c.after)).toEqual(["root=/dev/vda1 ro quiet\n", `title Debian\nlinux /${MID}/6.12.117/linux\noptions root=/dev/vda1 ro quiet\n`]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, SLOW);
});

test("detectBootloader() names what it looked for when it finds nothing", () => {
  const root = tree({ "/etc/hostname": "x\n" });
  try {
    expect(() => detectBootloader(root)).toThrow(KdumpError);
    expect(() => detectBootloader(root)).toThrow("no supported boot loader found");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
