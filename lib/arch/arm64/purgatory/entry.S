/* The purgatory's entry at offset 0 (arm64): a branch over the parameter block (purgatory.c `params`, at 8), then
 * a stack inside this segment, verify() (which returns only if the segments are intact), and the kernel's boot
 * protocol (Documentation/arch/arm64/booting.rst): x0 = the DTB's physical address, x1-x3 = 0, jump to the Image. */
	.section .text.entry, "ax"
	.globl	_start
_start:
	b	start

	.text
start:
	adr	x9, stack_end
	mov	sp, x9
	bl	verify
	adr	x9, params
	ldr	x0, [x9, #0x10]		/* params.dtb */
	ldr	x4, [x9, #0x08]		/* params.kernel */
	mov	x1, xzr
	mov	x2, xzr
	mov	x3, xzr
	br	x4

	.bss
	.balign	16
stack:	.skip	4096
stack_end:
