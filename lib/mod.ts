// The library's public surface, re-exported by kdump.ts. One line per module.
export * from "./errors.ts";
export * from "./sys/libc.ts";
export * from "./boot/status.ts";
