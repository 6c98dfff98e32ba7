# The kdump purgatory (x86_64): the code a panic jumps to before the capture kernel. The crashed kernel's
# machine_kexec() enters it at offset 0 in 64-bit mode, interrupts off, on identity-mapped page tables, with the
# GDT and IDT invalidated. It checks each loaded segment against the SHA-256 digest the loader computed (a crash
# may have scribbled over the reservation), then starts the kernel through the 64-bit boot protocol
# (Documentation/arch/x86/boot.rst): a GDT with flat __BOOT_CS 0x10 / __BOOT_DS 0x18, %rsi = boot_params,
# jump to the kernel's load address + 0x200. Position independent: the loader copies it anywhere and patches
# only the parameter block below (lib/arch/x86_64/purgatory.ts). Build: lib/arch/x86_64/purgatory/build.ts.

	.text
	.code64
start:
	jmp	main

# The parameter block, at fixed offsets the loader writes (all little-endian).
	.balign	8
params:
magic:		.ascii	"KDPURG01"		# 0x08: identifies this layout
entry:		.quad	0			# 0x10: the kernel's 64-bit entry point (load address + 0x200)
boot_params:	.quad	0			# 0x18: physical address of boot_params, passed in %rsi
flags:		.quad	0			# 0x20: bit 0: report on the serial port COM1 (I/O 0x3f8)
nr_regions:	.quad	0			# 0x28: how many regions follow (at most 16)
regions:	.skip	16 * 48			# 0x30: { u64 addr; u64 size; u8 sha256[32] } per region

main:
	cli
	cld
	leaq	stack_end(%rip), %rsp		# our own stack, inside this segment
	leaq	gdt(%rip), %rax			# point the GDT descriptor at where we were loaded, and load it
	movq	%rax, gdt_base(%rip)
	lgdt	gdt_limit(%rip)
	pushq	$0x10				# reload %cs with __BOOT_CS through a far return
	leaq	1f(%rip), %rax
	pushq	%rax
	lretq
1:	movl	$0x18, %eax			# and the data segments with __BOOT_DS
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs

	leaq	regions(%rip), %rbx		# verify: %rbx = region, %rbp = regions left
	movq	nr_regions(%rip), %rbp
	subq	$32, %rsp			# the computed digest
2:	testq	%rbp, %rbp
	jz	3f
	movq	0(%rbx), %rdi
	movq	8(%rbx), %rsi
	movq	%rsp, %rdx
	call	sha256
	movq	%rsp, %rsi
	leaq	16(%rbx), %rdi
	movl	$32, %ecx
	repe cmpsb
	jne	mismatch
	addq	$48, %rbx
	decq	%rbp
	jmp	2b
3:	addq	$32, %rsp
	leaq	msg_ok(%rip), %rsi
	call	puts

	movq	boot_params(%rip), %rsi		# start the kernel: %rsi = boot_params, nothing else is promised
	movq	entry(%rip), %rax
	xorl	%ebx, %ebx
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	xorl	%edi, %edi
	xorl	%ebp, %ebp
	xorl	%r8d, %r8d
	xorl	%r9d, %r9d
	xorl	%r10d, %r10d
	xorl	%r11d, %r11d
	xorl	%r12d, %r12d
	xorl	%r13d, %r13d
	xorl	%r14d, %r14d
	xorl	%r15d, %r15d
	jmp	*%rax

mismatch:					# a segment changed since it was loaded: booting it could do anything
	leaq	msg_bad(%rip), %rsi
	call	puts
4:	cli
	hlt
	jmp	4b

# puts: writes the NUL-terminated string at %rsi to COM1 when flags bit 0 is set; waits a bounded time for the
# transmitter so a machine without a UART there does not hang. Clobbers %rax %rcx %rdx %rsi %r8.
puts:
	testb	$1, flags(%rip)
	jz	9f
5:	movzbl	(%rsi), %ecx
	testl	%ecx, %ecx
	jz	9f
	movl	$0x3fd, %edx			# line status register: bit 5, transmitter holding register empty
	movl	$100000, %r8d
6:	inb	%dx, %al
	testb	$0x20, %al
	jnz	7f
	pause
	decl	%r8d
	jnz	6b
7:	movl	$0x3f8, %edx
	movl	%ecx, %eax
	outb	%al, %dx
	incq	%rsi
	jmp	5b
9:	ret

	.include "sha256.s"

msg_ok:	.asciz	"kdump purgatory: segments verified, starting the capture kernel\r\n"
msg_bad: .asciz	"kdump purgatory: a segment's SHA-256 does not match what was loaded; halting\r\n"

	.balign	16
gdt:						# 0x00 and 0x08 are never loaded: they hold the lgdt operand
gdt_limit:
	.word	gdt_end - gdt - 1
gdt_base:
	.quad	0
	.word	0, 0, 0
	.quad	0x00af9a000000ffff		# 0x10 __BOOT_CS: 64-bit code, present, execute/read, 4 GiB flat
	.quad	0x00cf92000000ffff		# 0x18 __BOOT_DS: data, present, read/write, 4 GiB flat
gdt_end:

	.balign	16
stack:	.skip	4096
stack_end:
