// Network targets that never appear, on a 6.12 or 6.1 guest alone on a QEMU socket network (it listens on 127.0.0.1
// and nobody connects: the link is up, nothing answers). First the NFS server is down; then the link is unplugged by
// QMP `set_link off` right after the panic. Each capture must log the step that failed and run the failure action within
// the configured net_timeout (30 s here), measured on the console's arrival times.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { $ } from "bun";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { runGuest } from "../../lib/lab/qemu.ts";
import { labDir } from "../../lib/lab/labdir.ts";
import { setupModules } from "../../lib/lab/storage_guest.ts";
import { MATRIX } from "../_matrix.ts";
import { qmp, type QmpReply } from "./_qmp.ts";

const BOUND = 30;

/** The job, after the line that loads the NIC's modules. */
const job = (net: string) => `
${net}
ip link set eth0 up; ip addr add 10.0.0.2/24 dev eth0
printf 'nfs 10.0.0.1:/srv/nfs\\npath /dumps\\nnet_timeout ${BOUND}\\n' > /etc/kdump.conf
case $LAB_BOOT in
1|2) kdump load; echo "RC-LOAD=$?"; sync; kdump trigger --yes ;;
*) ls -R /var/crash | sed 's/^/LOCAL /'; echo "RC-DONE=0" ;;
esac
`;

describe.if(MATRIX).each(["6.12", "6.1"])("network target faults (%s)", (line) => {
  test(
    `NFS server down, then the link unplugged after the panic: the capture log names the step and the failure action runs within net_timeout ${BOUND} s`,
    async () => {
      const kernel = await fetchKernel(line);
      const net = setupModules(kernel, ["virtio_net"], "/lab/net");
      const sock = join(labDir(), "runs", `qmp-${process.pid}-${Date.now()}.sock`);
      const port = 20000 + Math.floor(Math.random() * 20000);
      const seen: { at: number; line: string }[] = [];
      let crashes = 0;
      let unplugged: Promise<QmpReply[]> | undefined;
      const r = await runGuest({
        kernel,
        cpus: 1,
        job: job(net.load),
        cmdline: "crashkernel=256M",
        boots: 3,
        rootfs: { files: net.files },
        extraArgs: ["-netdev", `socket,id=n0,listen=127.0.0.1:${port}`, "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:6b:64:03", "-qmp", `unix:${sock},server=on,wait=off`],
        timeoutSeconds: 2400,
        onLine: (l) => {
          seen.push({ at: Date.now(), line: l });
          // the second crash: unplug the cable while the capture kernel boots
          if (/sysrq: Trigger a crash/.test(l) && ++crashes === 2) unplugged = qmp(sock, [{ execute: "set_link", arguments: { name: "n0", up: false } }]);
        },
      });
      try {
        const at = (re: RegExp, from = 0) => seen.findIndex((s, i) => i >= from && re.test(s.line));
        const c = seen.map((s) => s.line).join("\n");
        expect(c.match(/RC-LOAD=\d+/g)).toEqual(["RC-LOAD=0", "RC-LOAD=0"]);
        expect(await unplugged).toEqual([{ return: {} }]);
        // 1: nobody serves NFS: the mount step fails, within the bound
        const up1 = at(/kdump-capture: network: bringing up/);
        const fail1 = at(/kdump-capture: failure action: reboot/, up1);
        expect(up1).toBeGreaterThan(0);
        expect(c).toMatch(/kdump-capture: nfs: step 'mount' failed: 10\.0\.0\.1:\/srv\/nfs could not be mounted within the 30 s bound/);
        const s1 = (seen[fail1]!.at - seen[up1]!.at) / 1000;
        // 2: the link is down in the capture kernel: the link step fails, within the bound
        const up2 = at(/kdump-capture: network: bringing up/, fail1);
        const fail2 = at(/kdump-capture: failure action: reboot/, up2);
        expect(seen.slice(up2, fail2 + 1).some((s) => /network: step 'link' failed: no carrier on eth0 after 30 s/.test(s.line))).toBe(true);
        const s2 = (seen[fail2]!.at - seen[up2]!.at) / 1000;
        console.log(`network faults (${line}): NFS down ${s1.toFixed(1)} s, link off ${s2.toFixed(1)} s to the failure action (bound ${BOUND} s)`);
        expect(s1).toBeLessThan(BOUND + 10); // the bound, plus the last step's own timeout and the console's lag
        expect(s2).toBeLessThan(BOUND + 10);
        expect(c).toContain("RC-DONE=0");
        expect(c).not.toMatch(/^LOCAL .*vmcore/m); // nothing half-written anywhere
      } finally {
        console.log(`network faults (${line}): ${r.seconds.toFixed(0)} s; console ${r.dir}`);
        await $`rm -f ${sock}`.quiet();
      }
      r.cleanup();
    },
    3 * 3600_000,
  );
});
