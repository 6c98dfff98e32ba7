// Installs what the lab needs on a Debian/Ubuntu host (QEMU, busybox, e2fsprogs, the peer tools the tests
// compare with) and fetches the kernels. One list, used by `kdump lab setup`, .ci/run and the README.
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { fetchKernel, KERNEL_LINES, type LabKernel } from "./kernels.ts";

/** Debian packages the lab and its oracles need. */
export const LAB_PACKAGES = [
  "qemu-system-x86", // the guests (TCG: no KVM needed)
  "qemu-system-arm", // arm64 guests: qemu-system-aarch64 -machine virt
  "qemu-user", // qemu-aarch64: sid's arm64 crash 9.0.2 run on our arm64 dumps on an x86_64 host
  "busybox-static", // guest userland and initramfs
  "cpio", // checking archives we write
  "e2fsprogs", // mke2fs -d and debugfs: root images without mounting
  "xz-utils", // 6.12 modules are .ko.xz
  "zstd",
  "crash", // oracle: Debian's crash 8.0.2
  "makedumpfile", // oracle and peer: Debian's makedumpfile 1.7.2
  "python3-drgn", // oracle: drgn 0.0.22
  "patch", // oracle: every diff `kdump setup --dry-run` prints must apply
  "binutils", // readelf as an oracle for ELF we write; as/ld build the purgatory
  "liblzo2-2", // reference LZO1X codec the tests compare ours with
  "libsnappy1v5", // reference snappy codec
  "time", // GNU time: peak RSS in the benchmarks
  "lz4", // the 6.1 bzImage payload is LZ4: tests unpack vmlinux to read its .BTF and ORC sections
  "gcc", // builds the out-of-tree oops test module against Debian's linux-headers
  "make",
  "file", // oracle: what file(1) says of a bzImage
  "strace", // the dump fuzzer records which bytes a clean analyze reads (test/fuzz/_bases.ts)
  "lvm2", // storage guests: pvcreate/vgcreate/lvcreate in the guest; the capture packs the host's lvm
  "mdadm", // storage guests: MD RAID1 roots, assembled in the capture by the host's mdadm
  "cryptsetup-bin", // storage guests: the LUKS2 root, formatted and opened in the guest by the host's cryptsetup
  "xfsprogs", // mkfs.xfs: XFS dump targets (and blkid tests on real images)
  "btrfs-progs", // mkfs.btrfs: btrfs dump targets by LABEL
  "debootstrap", // the sid root of the newest peers (lib/lab/sid_root.ts) and the Debian systemd guest (lib/lab/debian_guest.ts)
];

/** Peers the lab unpacks (lib/lab/peers.ts) rather than installs, so nothing of theirs runs at boot. */
const UNPACKED_PEERS = ["kexec-tools"];

/**
 * The shared-library packages the unpacked peers depend on: their binaries are copied into lab guests with the
 * host's copies of those libraries (bookworm's kexec-tools 2.0.25-3+deb12u3 links libxenctrl, for one).
 */
async function unpackedPeerLibraries(): Promise<string[]> {
  const out = (await $`apt-cache depends --no-recommends --no-suggests ${UNPACKED_PEERS}`.quiet().nothrow()).stdout.toString();
  return [...new Set([...out.matchAll(/^\s*\|?Depends:\s+(lib[^\s<>]+)/gm)].map((m) => m[1]!))].filter((n) => n !== "libc6");
}

/** Installs LAB_PACKAGES with apt-get (needs root) and fetches both kernel lines. */
export async function labSetup(log: (line: string) => void = console.error): Promise<LabKernel[]> {
  if (process.getuid?.() !== 0) throw new LabError("lab setup installs Debian packages", { hint: "run it in a root shell (su -, or sudo where installed)" });
  log("$ apt-get update");
  await $`apt-get update -qq`.quiet();
  log(`$ apt-get install -y ${LAB_PACKAGES.join(" ")}`);
  const r = await $`apt-get install -y -qq --no-install-recommends ${LAB_PACKAGES}`.env({ ...process.env, DEBIAN_FRONTEND: "noninteractive" }).quiet().nothrow();
  if (r.exitCode !== 0) throw new LabError("apt-get install failed", { hint: r.stderr.toString().trim().split("\n").pop() });
  const libs = await unpackedPeerLibraries();
  if (libs.length) {
    log(`$ apt-get install -y ${libs.join(" ")}   # libraries of the peers the lab unpacks without installing`);
    const l = await $`apt-get install -y -qq --no-install-recommends ${libs}`.env({ ...process.env, DEBIAN_FRONTEND: "noninteractive" }).quiet().nothrow();
    if (l.exitCode !== 0) throw new LabError("apt-get install failed", { hint: l.stderr.toString().trim().split("\n").pop() });
  }
  const kernels: LabKernel[] = [];
  for (const line of Object.keys(KERNEL_LINES)) {
    log(`fetching the Debian ${line} cloud kernel`);
    kernels.push(await fetchKernel(line));
  }
  return kernels;
}
