// Network dump targets end to end: two guests on one QEMU socket network (listen/connect on 127.0.0.1, no host
// networking). The receiver is a Debian 12 guest (6.12) with the real OpenSSH sshd and the kernel NFS server; the
// crashing guest (6.12 or 6.1, busybox userland with the host's OpenSSH client) runs `kdump propagate`, then crashes
// four times: the dump over ssh, over NFS v3 and over NFS v4.2 (the version its own mount of the export uses), and
// over ssh with a wrong host key recorded, which must fail with the reason in the capture log. The receiver runs
// `kdump analyze … bt`.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { fetchKernel, type LabKernel } from "../../lib/lab/kernels.ts";
import { runGuest, type GuestResult } from "../../lib/lab/qemu.ts";
import { setupModules } from "../../lib/lab/storage_guest.ts";
import { runDebianGuest } from "../../lib/lab/debian_guest.ts";
import { sharedLibraries } from "../../lib/lab/rootfs.ts";
import { MATRIX } from "../_matrix.ts";

const RECEIVER_MAC = "52:54:00:6b:64:01";
const CRASHER_MAC = "52:54:00:6b:64:02";
/** The receiver's packages on top of the Debian guest's. */
export const RECEIVER_PACKAGES = ["openssh-server", "nfs-kernel-server", "iproute2"];

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const lines = (r: GuestResult, prefix: string) => plain(r.console).split("\n").filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));

/** The receiver: 10.0.0.1, /srv/crash for ssh, /srv/nfs exported; analyzes what arrived once the crasher is done. */
const RECEIVER_JOB = `
# udev may load virtio_net after this job starts: wait for the interface
IF=; i=0; while [ -z "$IF" ] && [ $i -lt 600 ]; do
  for d in /sys/class/net/*; do [ "$(cat $d/address)" = ${RECEIVER_MAC} ] && IF=\${d##*/}; done
  [ -n "$IF" ] || { sleep 1; i=$((i+1)); }
done
ip addr add 10.0.0.1/24 dev $IF && ip link set $IF up
mkdir -p /srv/nfs /srv/crash
echo '/srv/nfs 10.0.0.0/24(rw,sync,no_root_squash,no_subtree_check)' > /etc/exports
exportfs -ra; systemctl restart nfs-server
echo "SERVICES $(systemctl is-active ssh nfs-server rpcbind | tr '\\n' ' ')"
echo RECEIVER-READY
i=0; while [ ! -e /srv/nfs/done ] && [ $i -lt 3000 ]; do sleep 3; i=$((i+3)); done
find /srv/crash /srv/nfs -type f | sed 's/^/FILE /'
for f in /srv/crash/*/vmcore.flat /srv/nfs/dumps/*/vmcore /srv/nfs/dumps4/*/vmcore; do
  [ -e "$f" ] || continue
  echo "DUMP $f"; kdump analyze "$f" bt 2>&1 | sed "s|^|BT $f |"
done
`;

/** The crasher: 10.0.0.2 on eth0 (static), admin key for the receiver; one capture per boot. */
const crasherJob = (net: string, nfs: string) => `
${net}
ip link set eth0 up; ip addr add 10.0.0.2/24 dev eth0
chmod 700 /root/.ssh; chmod 600 /root/.ssh/id_ed25519
for i in $(seq 1 200); do ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 root@10.0.0.1 true 2>/dev/null && break; sleep 3; done
case $LAB_BOOT in
1) printf 'ssh root@10.0.0.1\\npath /srv/crash\\nsshkey /root/.ssh/kdump_id\\nnet_timeout 60\\n' > /etc/kdump.conf
   kdump propagate; echo "RC-PROPAGATE=$?"
   kdump propagate --json > /tmp/p.json; echo "RC-PROPAGATE-AGAIN=$? $(grep -c '"created": false' /tmp/p.json)"
   kdump load; echo "RC-LOAD=$?"; sync; kdump trigger --yes ;;
2) ${nfs}
   mkdir -p /mnt/nfs; mount -t nfs -o vers=3,nolock,addr=10.0.0.1 10.0.0.1:/srv/nfs /mnt/nfs; echo "RC-MOUNT=$?"
   printf 'nfs 10.0.0.1:/srv/nfs\\npath /dumps\\nnet_timeout 60\\n' > /etc/kdump.conf
   kdump load; echo "RC-LOAD=$?"; sync; kdump trigger --yes ;;
3) ${nfs}
   mkdir -p /mnt/nfs; mount -t nfs4 -o vers=4.2,addr=10.0.0.1 10.0.0.1:/srv/nfs /mnt/nfs; echo "RC-MOUNT4=$?"
   printf 'nfs 10.0.0.1:/srv/nfs\\npath /dumps4\\nnet_timeout 60\\n' > /etc/kdump.conf
   kdump load; echo "RC-LOAD=$?"; sync; kdump trigger --yes ;;
4) printf 'ssh root@10.0.0.1\\npath /srv/crash\\nsshkey /root/.ssh/kdump_id\\nnet_timeout 60\\n' > /etc/kdump.conf
   ssh-keygen -q -t ed25519 -N "" -f /tmp/other
   echo "10.0.0.1 $(cut -d' ' -f1,2 /tmp/other.pub)" > /root/.ssh/kdump_id.known_hosts
   kdump load; echo "RC-LOAD=$?"; sync; kdump trigger --yes ;;
*) ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@10.0.0.1 touch /srv/nfs/done; echo "RC-DONE=$?" ;;
esac
`;

/**
 * The host's OpenSSH client and ssh-keygen with their libraries, and the crasher kernel's NIC and NFS client
 * modules (decompressed; busybox has no modprobe) with the job lines that load them: the NIC at once, NFS on boot 2.
 */
async function crasherFiles(kernel: LabKernel, adminKey: string): Promise<{ files: Record<string, string | Uint8Array>; net: string; nfs: string }> {
  const files: Record<string, string | Uint8Array> = {};
  for (const exe of ["/usr/bin/ssh", "/usr/bin/ssh-keygen"]) {
    files[exe] = exe;
    for (const lib of await sharedLibraries(exe)) files[lib] = realpathSync(lib);
  }
  const net = setupModules(kernel, ["virtio_net"], "/lab/net");
  // the first kernel's own NFS client, as it mounts the export itself (v3, then v4.2)
  const nfs = setupModules(kernel, ["nfsv3", "nfsv4"], "/lab/nfs");
  files["/root/.ssh/id_ed25519"] = readFileSync(adminKey);
  return { files: { ...files, ...net.files, ...nfs.files }, net: net.load, nfs: nfs.load };
}

describe.if(MATRIX).each(["6.12", "6.1"])("network targets (two guests, %s crasher, Debian 6.12 receiver)", (line) => {
  test(
    "propagate, then dumps over ssh, NFS v3 and NFS v4.2 that kdump analyze reads on the receiver; a wrong host key fails the ssh capture with the reason in the capture log",
    async () => {
      const kernel = await fetchKernel("6.12");
      const crasherKernel = await fetchKernel(line);
      const tmp = mkdtempSync(join(tmpdir(), "kdump-net-"));
      const admin = join(tmp, "admin");
      await $`ssh-keygen -q -t ed25519 -N "" -f ${admin}`.quiet();
      const cf = await crasherFiles(crasherKernel, admin);
      const port = 20000 + Math.floor(Math.random() * 20000);
      let ready!: () => void;
      const up = new Promise<void>((res) => (ready = res));
      const receiver = runDebianGuest({
        kernel,
        cpus: 1,
        job: RECEIVER_JOB,
        image: { packages: RECEIVER_PACKAGES, files: { "/root/.ssh/authorized_keys": readFileSync(`${admin}.pub`) } },
        extraArgs: ["-netdev", `socket,id=n0,listen=127.0.0.1:${port}`, "-device", `virtio-net-pci,netdev=n0,mac=${RECEIVER_MAC}`],
        timeoutSeconds: 3600,
        onLine: (l) => l.startsWith("RECEIVER-READY") && ready(),
      });
      void receiver.finally(() => ready());
      await up;
      const crasher = await runGuest({
        kernel: crasherKernel,
        cpus: 1,
        job: crasherJob(cf.net, cf.nfs),
        cmdline: "crashkernel=256M",
        boots: 5,
        rootfs: { files: cf.files },
        extraArgs: ["-netdev", `socket,id=n0,connect=127.0.0.1:${port}`, "-device", `virtio-net-pci,netdev=n0,mac=${CRASHER_MAC}`],
        timeoutSeconds: 3000,
      });
      const r = await receiver;
      try {
        const c = plain(crasher.console);
        expect(lines(crasher, "RC-PROPAGATE=")).toEqual(["0"]);
        expect(lines(crasher, "RC-PROPAGATE-AGAIN=")).toEqual(["0 1"]); // the second run keeps the key
        expect(lines(crasher, "RC-LOAD=")).toEqual(["0", "0", "0", "0"]);
        // ssh: the stream arrived complete under its final name
        expect(c).toMatch(/kdump-capture: saved root@10\.0\.0\.1:\/srv\/crash\/lab-[\d-]+:[\d:]+\/vmcore\.flat by the collector over ssh/);
        // NFS v3, as the first kernel mounted the export
        expect(lines(crasher, "RC-MOUNT=")).toEqual(["0"]);
        expect(c).toContain("kdump-capture: nfs: step 'mount': 10.0.0.1:/srv/nfs as NFS v3");
        expect(c).toContain("kdump-capture: nfs: mounted as NFS v3");
        // NFS v4.2, likewise
        expect(lines(crasher, "RC-MOUNT4=")).toEqual(["0"]);
        expect(c).toContain("kdump-capture: nfs: step 'mount': 10.0.0.1:/srv/nfs as NFS v4.2");
        expect(c).toContain("kdump-capture: nfs: mounted as NFS v4.2");
        // the wrong host key: the capture log says why, and the failure action runs
        expect(c).toMatch(/kdump-capture: ssh: step 'connect' failed: Host key for 10\.0\.0\.1 has changed and you have requested strict checking\. Host key verification failed\./);
        expect(c).toContain("kdump-capture: failure action: reboot");
        expect(lines(crasher, "RC-DONE=")).toEqual(["0"]);
        const files = lines(r, "FILE ");
        expect(files.filter((f) => /\/srv\/crash\/lab-[^/]+\/vmcore\.flat$/.test(f))).toHaveLength(1);
        expect(files.filter((f) => /\/srv\/crash\/lab-[^/]+\/kexec-dmesg\.log$/.test(f)).length).toBeGreaterThanOrEqual(1);
        expect(files.filter((f) => /\/srv\/nfs\/dumps\/lab-[^/]+\/vmcore$/.test(f))).toHaveLength(1);
        expect(files.filter((f) => /\/srv\/nfs\/dumps4\/lab-[^/]+\/vmcore$/.test(f))).toHaveLength(1);
        expect(files.filter((f) => /vmcore$/.test(f) && f.includes("incomplete"))).toEqual([]);
        // kdump analyze on the receiver: the panic's backtrace through the sysrq crash handler, for both dumps
        const bt = lines(r, "BT ");
        expect(bt.filter((l) => l.includes("vmcore.flat") && /sysrq_handle_crash/.test(l)).length).toBeGreaterThanOrEqual(1);
        expect(bt.filter((l) => l.startsWith("/srv/nfs/dumps/") && /sysrq_handle_crash/.test(l)).length).toBeGreaterThanOrEqual(1);
        expect(bt.filter((l) => l.startsWith("/srv/nfs/dumps4/") && /sysrq_handle_crash/.test(l)).length).toBeGreaterThanOrEqual(1);
      } finally {
        console.log(`network lab (${line}): crasher ${crasher.seconds.toFixed(0)} s, receiver ${r.seconds.toFixed(0)} s; consoles ${crasher.dir}, ${r.dir}`);
        rmSync(tmp, { recursive: true, force: true });
      }
      crasher.cleanup();
      r.cleanup();
    },
    4 * 3600_000,
  );
});
