// mount(2) and umount2(2) through libc's syscall(), for the capture environment (no mount binary needed).
// Linux only; the caller confirms it runs where mounting is wanted (the capture kernel, or a test's fake).
import { SyscallError } from "../errors.ts";
import { cstring, errnoName, syscall } from "./libc.ts";

/** The mount calls a collector needs; `libcMount` is the real one, tests pass a fake. */
export interface MountCalls {
  /** mount(source, target, fstype, flags, data); throws SyscallError. */
  mount(source: string, target: string, fstype: string, flags?: number, data?: string): void;
  /** umount2(target, 0); throws SyscallError. */
  umount(target: string): void;
}

/** The real calls. */
export const libcMount: MountCalls = {
  mount(source, target, fstype, flags = 0, data = "") {
    const r = syscall("mount", cstring(source), cstring(target), cstring(fstype), flags, data ? cstring(data) : null);
    if (r.ret !== 0n) {
      const code = errnoName(r.errno);
      throw new SyscallError(`mount(${source} on ${target}, ${fstype})`, r.errno, code, {
        hint: code === "ENODEV" ? `the kernel has no ${fstype} driver loaded` : code === "EBUSY" ? "it is mounted already" : "check the device and the file system type",
      });
    }
  },
  umount(target) {
    const r = syscall("umount2", cstring(target), 0);
    if (r.ret !== 0n) throw new SyscallError(`umount(${target})`, r.errno, errnoName(r.errno));
  },
};
