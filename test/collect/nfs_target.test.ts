// `kdump collect --out nfs://server/export[:/sub]`: the kernel's text mount arguments per version, v4 falling back
// to v3, and a dump written under the mount then unmounted (mount(2) faked: the lab proves the real one).
import { expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { mountNfs, nfsMountArgs } from "../../lib/collect/nfs_target.ts";
import { openOutput, realTargetSys } from "../../lib/collect/target.ts";
import { SyscallError } from "../../lib/errors.ts";

test("nfsMountArgs() gives v3 nolock on fstype nfs and v4 on nfs4, soft with the server's address", () => {
  expect(nfsMountArgs("3", "10.0.0.1")).toEqual({ fstype: "nfs", data: "vers=3,nolock,addr=10.0.0.1,soft,timeo=100,retrans=3" });
  expect(nfsMountArgs("4.2", "10.0.0.1", 600, 2)).toEqual({ fstype: "nfs4", data: "vers=4.2,addr=10.0.0.1,soft,timeo=600,retrans=2" });
});

test("mountNfs() falls back from v4 to v3 and says why each failed when both do", () => {
  const calls: string[] = [];
  const mount = {
    mount(src: string, _at: string, fstype: string, _f?: number, data?: string) {
      calls.push(`${src} ${fstype} ${data}`);
      if (fstype === "nfs4") throw new SyscallError("mount(nfs4)", 2, "ENOENT");
    },
    umount() {},
  };
  const m = mountNfs({ kind: "nfs", server: "10.0.0.1", export: "/srv/nfs", sub: "/" }, mount);
  expect(calls).toEqual(["10.0.0.1:/srv/nfs nfs4 vers=4,addr=10.0.0.1,soft,timeo=100,retrans=3", "10.0.0.1:/srv/nfs nfs vers=3,nolock,addr=10.0.0.1,soft,timeo=100,retrans=3"]);
  m.unmount();
  expect(existsSync(m.at)).toBe(false);
  const dead = { mount: () => { throw new SyscallError("mount", 113, "EHOSTUNREACH"); }, umount() {} };
  expect(() => mountNfs({ kind: "nfs", server: "10.0.0.9", export: "/x", sub: "/" }, dead)).toThrow("cannot mount 10.0.0.9:/x (v4: ");
});

test("openOutput() of an NFS target writes <sub>/<host>-<date>/vmcore-incomplete under the mount and unmounts after completing", async () => {
  let mounted = "";
  let unmounted = false;
  const sys = { ...realTargetSys, mount: { mount: (_s: string, at: string) => void (mounted = at), umount: () => void (unmounted = true) } };
  const out = await openOutput({ kind: "nfs", server: "10.0.0.1", export: "/srv/nfs", sub: "/dumps" }, { host: "lab", when: new Date(Date.UTC(2026, 11, 1, 12, 0, 0)), file: "vmcore", stream: true }, sys);
  expect(out.where).toBe(`${mounted}/dumps/lab-2026-12-01-12:00:00/vmcore`);
  expect(readdirSync(`${mounted}/dumps/lab-2026-12-01-12:00:00`).sort()).toEqual(["vmcore-incomplete", "vmcore-incomplete.reason"]);
  expect(await out.complete()).toBe(out.where);
  expect(unmounted).toBe(true);
  // the fake mount left the files in the mount point itself, which rmdir refused to delete, as it must
  expect(existsSync(`${mounted}/dumps/lab-2026-12-01-12:00:00/vmcore`)).toBe(true);
  rmSync(mounted, { recursive: true, force: true });
});
