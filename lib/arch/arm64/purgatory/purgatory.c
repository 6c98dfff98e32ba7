/* The kdump purgatory (arm64): what a panic's machine_kexec() jumps to, MMU and caches off, before the capture
 * kernel. Like kexec-tools' purgatory (purgatory/purgatory.c), it hashes every loaded segment in physical memory
 * and compares with the SHA-256 the loader computed: a crash may have scribbled over the reservation, and booting
 * a corrupted kernel could do anything. On a match entry.S starts the kernel; on a mismatch it says so on the
 * PL011 UART (when the loader found one) and waits forever. The loader fills `params` (lib/arch/arm64/purgatory.ts).
 * Build: lib/arch/arm64/purgatory/build.ts. */
#include "sha256.h"

#define MAX_REGIONS 16

struct region {
	u64 addr;	/* physical start */
	u64 size;	/* bytes */
};

/* At offset 8 of the binary (purgatory.lds), little-endian. */
struct params {
	char magic[8];			/* 0x00: "KDPARM01", the layout the loader writes */
	u64 kernel;			/* 0x08: the Image's physical address, entered with x0 = dtb */
	u64 dtb;			/* 0x10: the capture DTB's physical address */
	u64 uart;			/* 0x18: a PL011's registers, 0 for none */
	u64 nr_regions;			/* 0x20: regions used */
	u8 sha256[32];			/* 0x28: SHA-256 of the regions' bytes, one after another */
	struct region regions[MAX_REGIONS];	/* 0x48 */
};

_Static_assert(__builtin_offsetof(struct params, kernel) == 0x08, "entry.S loads params.kernel at 0x08");
_Static_assert(__builtin_offsetof(struct params, dtb) == 0x10, "entry.S loads params.dtb at 0x10");
_Static_assert(__builtin_offsetof(struct params, uart) == 0x18, "lib/arch/arm64/purgatory.ts writes uart at 8 + 0x18");
_Static_assert(__builtin_offsetof(struct params, nr_regions) == 0x20, "the loader writes nr_regions at 8 + 0x20");
_Static_assert(__builtin_offsetof(struct params, sha256) == 0x28, "the loader writes sha256 at 8 + 0x28");
_Static_assert(__builtin_offsetof(struct params, regions) == 0x48, "the loader writes regions at 8 + 0x48");

__attribute__((section(".params"), used)) struct params params = { .magic = "KDPARM01" };

#define UARTDR 0x00	/* PL011 data register */
#define UARTFR 0x18	/* flag register: bit 5 TXFF, the transmit FIFO is full */

static void puts_uart(const char *s)
{
	volatile u32 *uart = (volatile u32 *)params.uart;
	int spin;

	if (!uart)
		return;
	for (; *s; s++) {
		for (spin = 100000; spin && (uart[UARTFR / 4] & (1 << 5)); spin--)
			;
		uart[UARTDR / 4] = *s;
	}
}

/* Called by entry.S on our own stack; returns only when every region hashes to the digest. */
void verify(void)
{
	struct sha256 s;
	u8 got[32];
	u64 i;
	int bad = 0;

	sha256_init(&s);
	for (i = 0; i < params.nr_regions && i < MAX_REGIONS; i++)
		sha256_update(&s, (const u8 *)params.regions[i].addr, params.regions[i].size);
	sha256_final(&s, got);
	for (i = 0; i < 32; i++)
		bad |= got[i] != params.sha256[i];
	if (!bad) {
		puts_uart("kdump purgatory: sha256 ok, starting the capture kernel\r\n");
		return;
	}
	puts_uart("kdump purgatory: sha256 mismatch, not booting\r\n");
	for (;;)
		__asm__ volatile("wfe");
}
