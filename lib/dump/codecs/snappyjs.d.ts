// Types for the snappyjs package (it ships none): the two functions we use.
declare module "snappyjs" {
  /** Decompresses a raw snappy block; throws when it would exceed `maxLength` or is invalid. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  /** Compresses into a raw snappy block. */
  export function compress(uncompressed: Uint8Array): Uint8Array;
  const snappy: { uncompress: typeof uncompress; compress: typeof compress };
  export default snappy;
}
