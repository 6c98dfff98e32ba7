// Page-sized inputs for codec tests: what a dump's pages look like (zeros, text, pointers, random bytes) and
// shapes that reach every instruction form of a compressor (long runs, long matches, short tails).

/** Named sample buffers, deterministic. */
export function samples(): [string, Uint8Array][] {
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
  const page = () => new Uint8Array(4096);
  const random = page().map(rnd);
  const text = new TextEncoder().encode("[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)\n".repeat(60)).subarray(0, 4096);
  const pointers = page();
  const dv = new DataView(pointers.buffer);
  for (let i = 0; i < 512; i++) dv.setBigUint64(i * 8, 0xffff888000000000n + BigInt((rnd() << 12) | (i * 64)), true);
  const sparse = page();
  for (let i = 0; i < 40; i++) sparse[rnd() * 16] = rnd();
  const runs = page();
  for (let at = 0; at < 4096; ) {
    const n = 1 + rnd() * 3;
    runs.fill(rnd() & 3 ? runs[Math.max(0, at - 1)]! : rnd(), at, at + n);
    at += n;
  }
  const literalsThenMatch = page();
  literalsThenMatch.set(random.subarray(0, 1500));
  literalsThenMatch.set(random.subarray(0, 1500), 2000);
  return [
    ["zeros", page()],
    ["random", random],
    ["log text", text],
    ["pointers", pointers],
    ["sparse", sparse],
    ["runs", runs],
    ["long literals then a long far match", literalsThenMatch],
    ["one byte", new Uint8Array([42])],
    ["odd length", random.subarray(0, 1237)],
  ];
}
