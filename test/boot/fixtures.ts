// Files the boot tests edit: the real defaults Debian's packages ship (downloaded from the registry on first use
// and cached under .lab/pkgs/), and the shell as the oracle of what a sourced defaults file means.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianPackage } from "../../lib/lab/peers.ts";

/** The text of `path` inside Debian package `pkg` (apt-get download + dpkg-deb -x, cached). */
export async function debianFile(pkg: string, path: string): Promise<string> {
  return readFileSync(join(await debianPackage(pkg), path), "utf8");
}

/** Debian's /etc/default/grub template as grub2-common ships it (its postinst copies it to /etc/default/grub). */
export const debianGrubDefaults = () => debianFile("grub2-common", "usr/share/grub/default/grub");
/** kdump-tools' drop-in /etc/default/grub.d/kdump-tools.cfg (Debian's fixed 384M-:128M reservation). */
export const kdumpToolsGrubCfg = () => debianFile("kdump-tools", "etc/default/grub.d/kdump-tools.cfg");
/** kdump-tools' /etc/default/kdump-tools template (ucf installs it from /usr/share/kdump-tools). */
export const kdumpToolsDefaults = () => debianFile("kdump-tools", "usr/share/kdump-tools/kdump-tools.conf");

/**
 * Sources `files` in order with /bin/sh, as grub-mkconfig does, and returns the named variables' values.
 * CRLF is read as LF (the shell would keep the \r in values; the kernel treats it as a space).
 */
export async function sourced(files: { text: string }[], names: string[]): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), "sourced-"));
  try {
    const paths = files.map((f, i) => {
      const p = join(dir, `f${i}`);
      writeFileSync(p, f.text.replaceAll("\r\n", "\n"));
      return p;
    });
    const script = `for f; do . "$f"; done; ${names.map((n) => `printf '%s\\0' "$${n}"`).join("; ")}`;
    const r = await Bun.$`sh -c ${script} sh ${paths}`.quiet();
    const values = r.stdout.toString().split("\0");
    return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// grub-probe needs a real disk; this stub answers for a plain ext2 partition (it only feeds root=, not the part under test).
const STUB_PROBE = `#!/bin/sh
t=; for a; do case $a in --target=*) t=\${a#--target=};; esac; done
case $t in
device) echo /dev/vda1;; fs) echo ext2;; fs_uuid) echo 0b6f6a3c-1111-4222-8333-444455556666;; partuuid) echo 1234abcd-01;;
partmap) echo msdos;; abstraction) ;; drive) echo '(hd0,msdos1)';; hints_string) echo '--hint-bios=hd0,msdos1';;
compatibility_hint) echo 'hd0,msdos1';; *) echo "stub grub-probe: unknown target $t" >&2; exit 1;; esac
`;

/** A Debian box to run GRUB's own tools in: see grubSandbox(). */
export interface GrubSandbox {
  /** The chroot's root (give it to --root). */
  root: string;
  /** The scratch folder: etc/ (the box's /etc changes land here), boot/ (grub.cfg is boot/grub/grub.cfg). */
  dir: string;
  /** Runs a shell command in a private mount namespace where `root` is set up. */
  run(cmd: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** The linux lines of the generated grub.cfg. */
  linuxLines(): string[];
  /** Removes the scratch folder. */
  cleanup(): Promise<void>;
}

/**
 * A chroot with Debian's real GRUB tooling. grub-mkconfig reads /etc/default/grub and /boot by absolute path, so
 * it runs chrooted in a private mount namespace (unshare -m; needs root): /usr is grub-common + grub2-common from
 * the registry over this machine's /usr, /etc is the scratch defaults (Debian's template and kdump-tools' drop-in)
 * over grub-common's /etc/grub.d and this machine's /etc, /boot a scratch folder with two fake kernels.
 */
export async function grubSandbox(): Promise<GrubSandbox> {
  const common = await debianPackage("grub-common");
  const common2 = await debianPackage("grub2-common");
  const dir = mkdtempSync(join(tmpdir(), "grub-box-"));
  for (const d of ["root", "stub/sbin", "etc/default/grub.d", "work", "boot/grub"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "etc/default/grub"), await debianGrubDefaults());
  writeFileSync(join(dir, "etc/default/grub.d/kdump-tools.cfg"), await kdumpToolsGrubCfg());
  for (const v of ["6.1.0-56-cloud-amd64", "6.12.117+deb12-cloud-amd64"]) {
    writeFileSync(join(dir, `boot/vmlinuz-${v}`), "not a kernel\n");
    writeFileSync(join(dir, `boot/initrd.img-${v}`), "not an initrd\n");
  }
  writeFileSync(join(dir, "stub/sbin/grub-probe"), STUB_PROBE);
  chmodSync(join(dir, "stub/sbin/grub-probe"), 0o755);
  const R = join(dir, "root");
  const mounts = `set -e
mount --bind ${R} ${R}
mkdir -p ${R}/usr ${R}/etc ${R}/boot ${R}/dev ${R}/proc ${R}/tmp
mount -t overlay o -o lowerdir=${dir}/stub:${common2}/usr:${common}/usr:/usr ${R}/usr
mount -t overlay o -o lowerdir=${common}/etc:/etc,upperdir=${dir}/etc,workdir=${dir}/work ${R}/etc
mount --bind ${dir}/boot ${R}/boot
mount --rbind /dev ${R}/dev
mount -t proc proc ${R}/proc
mount -t tmpfs tmpfs ${R}/tmp
for l in bin sbin lib lib64; do ln -sfn usr/$l ${R}/$l; done
`;
  return {
    root: R,
    dir,
    async run(cmd) {
      const r = await Bun.$`unshare -m --propagation private sh -c ${mounts + cmd}`.quiet().nothrow();
      return { exitCode: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    },
    linuxLines: () => readFileSync(join(dir, "boot/grub/grub.cfg"), "utf8").split("\n").filter((l) => /^\s*linux\s/.test(l)),
    cleanup: async () => void (await Bun.$`rm -rf ${dir}`.quiet().nothrow()),
  };
}
