/* SHA-256 (FIPS 180-4) for the arm64 purgatory: byte loads only, so it runs with the MMU off, where every data
 * access is Device memory and an unaligned word load faults. Also built for the host by the test harness. */
#ifndef KDUMP_SHA256_H
#define KDUMP_SHA256_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long u64;

struct sha256 {
	u32 h[8];	/* the state */
	u8 buf[64];	/* a partial block */
	u64 len;	/* bytes hashed so far */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const u8 *p, u64 n);
void sha256_final(struct sha256 *s, u8 out[32]);

#endif
