/* Host test harness (test/arch/arm64/purgatory.test.ts): prints the SHA-256 of stdin as sha256.c computes it, fed in
 * odd-sized pieces so every path of sha256_update() runs. */
#include <stdio.h>
#include "sha256.h"

int main(void)
{
	static u8 buf[1 << 20];
	struct sha256 s;
	u8 out[32];
	size_t n, piece = 1;
	int i;

	sha256_init(&s);
	while ((n = fread(buf, 1, piece, stdin)) > 0) {
		sha256_update(&s, buf, n);
		piece = piece * 3 + 1 > sizeof(buf) ? 1 : piece * 3 + 1;
	}
	sha256_final(&s, out);
	for (i = 0; i < 32; i++)
		printf("%02x", out[i]);
	return 0;
}
