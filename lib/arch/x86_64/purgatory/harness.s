# Host test harness for sha256.s (Linux x86_64, static, no libc): reads stdin (up to 64 MiB) and writes the 32-byte
# SHA-256 digest of it to stdout. Built and run only by test/arch/x86_64/purgatory.test.ts.

	.text
	.globl	_start
_start:
	cld
	leaq	input(%rip), %rbx		# %rbx = end of what was read
1:	xorl	%edi, %edi			# read(0, %rbx, room left)
	movq	%rbx, %rsi
	leaq	input_end(%rip), %rdx
	subq	%rbx, %rdx
	jz	2f
	xorl	%eax, %eax
	syscall
	testq	%rax, %rax
	jle	2f
	addq	%rax, %rbx
	jmp	1b
2:	leaq	input(%rip), %rdi
	movq	%rbx, %rsi
	subq	%rdi, %rsi
	leaq	digest(%rip), %rdx
	call	sha256
	movl	$1, %eax			# write(1, digest, 32)
	movl	$1, %edi
	leaq	digest(%rip), %rsi
	movl	$32, %edx
	syscall
	movl	$60, %eax			# exit(0)
	xorl	%edi, %edi
	syscall

	.include "sha256.s"

	.bss
	.balign	64
digest:	.skip	32
input:	.skip	64 << 20
input_end:
