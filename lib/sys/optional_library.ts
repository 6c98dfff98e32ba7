// A shared library opened through bun:ffi on first use, or null where it is not there (or where the variable that
// turns it off, for tests of the fallback, is set): callers then use their own code. Used by the bindings of
// libzstd, liblzo2, liblzma, libz, libc's mmap and the collector's thread CPU clock.

/**
 * Wraps `open` (a dlopen call) so it runs once, on the first call, and its failure reads as null.
 * @example const zstd = optionalLibrary(() => dlopen("libzstd.so.1", {...}), "KDUMP_NO_LIBZSTD"); zstd()?.symbols
 */
export function optionalLibrary<T>(open: () => T, offVariable?: string): () => T | null {
  let lib: T | null | undefined;
  return () => {
    if (lib === undefined) {
      try {
        lib = offVariable && process.env[offVariable] ? null : open();
      } catch {
        lib = null;
      }
    }
    return lib;
  };
}
