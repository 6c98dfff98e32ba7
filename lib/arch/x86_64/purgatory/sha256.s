# SHA-256 (FIPS 180-4) for x86_64: integer instructions only, position independent, writes nothing outside its
# stack and the digest. Shared by the purgatory and the host test harness (harness.s), which checks it against Bun.

	.text

# sha256: digest of one contiguous buffer.
#   in:  %rdi = data, %rsi = length in bytes, %rdx = where to store the 32-byte digest
#   out: the digest, big-endian as SHA-256 prints it
#   clobbers %rax %rcx %rdx %rsi %rdi %r8-%r15; keeps %rbx %rbp %rsp; needs the direction flag clear
# Frame (from %rbp): state H0..H7 at -32, padding blocks at -160 (128 bytes), out -168, length -176,
# next block -184, full blocks left / padding bytes -192.
sha256:
	pushq	%rbp
	movq	%rsp, %rbp
	subq	$192, %rsp
	movq	%rdx, -168(%rbp)
	movq	%rsi, -176(%rbp)
	movq	%rdi, -184(%rbp)
	leaq	sha256_h0(%rip), %rax		# state := the initial hash value
	movq	0(%rax), %rcx
	movq	%rcx, -32(%rbp)
	movq	8(%rax), %rcx
	movq	%rcx, -24(%rbp)
	movq	16(%rax), %rcx
	movq	%rcx, -16(%rbp)
	movq	24(%rax), %rcx
	movq	%rcx, -8(%rbp)
	shrq	$6, %rsi
	movq	%rsi, -192(%rbp)
1:	cmpq	$0, -192(%rbp)			# every whole 64-byte block, straight from memory
	je	2f
	leaq	-32(%rbp), %rdi
	movq	-184(%rbp), %rsi
	call	sha256_block
	addq	$64, -184(%rbp)
	decq	-192(%rbp)
	jmp	1b
2:	leaq	-160(%rbp), %rdi		# the tail: zeroed padding, the last bytes, 0x80, the bit length
	xorl	%eax, %eax
	movl	$128, %ecx
	rep stosb
	movq	-176(%rbp), %rcx
	andl	$63, %ecx
	movq	-184(%rbp), %rsi
	leaq	-160(%rbp), %rdi
	rep movsb
	movb	$0x80, (%rdi)
	movq	-176(%rbp), %rcx
	andl	$63, %ecx
	movl	$64, %edx			# one padding block, or two when the tail leaves no room for the length
	cmpl	$56, %ecx
	jb	3f
	movl	$128, %edx
3:	movq	-176(%rbp), %rax
	shlq	$3, %rax
	bswapq	%rax
	leaq	-160(%rbp), %rdi
	movq	%rax, -8(%rdi,%rdx)
	movq	%rdx, -192(%rbp)
	leaq	-32(%rbp), %rdi
	leaq	-160(%rbp), %rsi
	call	sha256_block
	cmpq	$128, -192(%rbp)
	jne	4f
	leaq	-32(%rbp), %rdi
	leaq	-96(%rbp), %rsi
	call	sha256_block
4:	movq	-168(%rbp), %rdi		# digest := state, each word big-endian
	xorl	%ecx, %ecx
5:	movl	-32(%rbp,%rcx,4), %eax
	bswapl	%eax
	movl	%eax, (%rdi,%rcx,4)
	incl	%ecx
	cmpl	$8, %ecx
	jb	5b
	leave
	ret

# sha256_block: one compression round.
#   in:  %rdi = state (8 × u32, native order), %rsi = 64-byte block
#   clobbers %rax %rcx %rdx %rsi %r8-%r15; keeps %rbx %rbp %rdi; 256 bytes of stack for the message schedule W
sha256_block:
	pushq	%rbx
	pushq	%rbp
	subq	$256, %rsp
	xorl	%ecx, %ecx
1:	movl	(%rsi,%rcx,4), %eax		# W[0..15] = the block as big-endian words
	bswapl	%eax
	movl	%eax, (%rsp,%rcx,4)
	incl	%ecx
	cmpl	$16, %ecx
	jb	1b
2:	movl	-60(%rsp,%rcx,4), %eax		# W[i-15]
	movl	%eax, %edx
	rorl	$7, %eax
	movl	%edx, %ebx
	rorl	$18, %ebx
	xorl	%ebx, %eax
	shrl	$3, %edx
	xorl	%edx, %eax			# σ0
	movl	-8(%rsp,%rcx,4), %edx		# W[i-2]
	movl	%edx, %ebx
	rorl	$17, %ebx
	movl	%edx, %ebp
	rorl	$19, %ebp
	xorl	%ebp, %ebx
	shrl	$10, %edx
	xorl	%edx, %ebx			# σ1
	addl	%ebx, %eax
	addl	-64(%rsp,%rcx,4), %eax		# + W[i-16]
	addl	-28(%rsp,%rcx,4), %eax		# + W[i-7]
	movl	%eax, (%rsp,%rcx,4)
	incl	%ecx
	cmpl	$64, %ecx
	jb	2b
	movl	0(%rdi), %r8d			# a..h in r8d..r15d
	movl	4(%rdi), %r9d
	movl	8(%rdi), %r10d
	movl	12(%rdi), %r11d
	movl	16(%rdi), %r12d
	movl	20(%rdi), %r13d
	movl	24(%rdi), %r14d
	movl	28(%rdi), %r15d
	leaq	sha256_k(%rip), %rsi
	xorl	%ecx, %ecx
3:	movl	%r12d, %eax			# Σ1(e)
	rorl	$6, %eax
	movl	%r12d, %edx
	rorl	$11, %edx
	xorl	%edx, %eax
	movl	%r12d, %edx
	rorl	$25, %edx
	xorl	%edx, %eax
	movl	%r12d, %edx			# Ch(e, f, g) = (e & f) ^ (~e & g)
	andl	%r13d, %edx
	movl	%r12d, %ebx
	notl	%ebx
	andl	%r14d, %ebx
	xorl	%ebx, %edx
	addl	%edx, %eax
	addl	%r15d, %eax
	addl	(%rsi,%rcx,4), %eax
	addl	(%rsp,%rcx,4), %eax		# T1 = h + Σ1 + Ch + K[i] + W[i]
	movl	%r8d, %edx			# Σ0(a)
	rorl	$2, %edx
	movl	%r8d, %ebx
	rorl	$13, %ebx
	xorl	%ebx, %edx
	movl	%r8d, %ebx
	rorl	$22, %ebx
	xorl	%ebx, %edx
	movl	%r9d, %ebx			# Maj(a, b, c) = (a & (b | c)) | (b & c)
	orl	%r10d, %ebx
	andl	%r8d, %ebx
	movl	%r9d, %ebp
	andl	%r10d, %ebp
	orl	%ebp, %ebx
	addl	%ebx, %edx			# T2 = Σ0 + Maj
	movl	%r14d, %r15d			# h = g, g = f, f = e, e = d + T1, d = c, c = b, b = a, a = T1 + T2
	movl	%r13d, %r14d
	movl	%r12d, %r13d
	movl	%r11d, %r12d
	addl	%eax, %r12d
	movl	%r10d, %r11d
	movl	%r9d, %r10d
	movl	%r8d, %r9d
	movl	%eax, %r8d
	addl	%edx, %r8d
	incl	%ecx
	cmpl	$64, %ecx
	jb	3b
	addl	%r8d, 0(%rdi)
	addl	%r9d, 4(%rdi)
	addl	%r10d, 8(%rdi)
	addl	%r11d, 12(%rdi)
	addl	%r12d, 16(%rdi)
	addl	%r13d, 20(%rdi)
	addl	%r14d, 24(%rdi)
	addl	%r15d, 28(%rdi)
	addq	$256, %rsp
	popq	%rbp
	popq	%rbx
	ret

	.balign	8
sha256_h0:					# initial hash value: fractional parts of the square roots of the first 8 primes
	.long	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
sha256_k:					# round constants: fractional parts of the cube roots of the first 64 primes
	.long	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5
	.long	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174
	.long	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da
	.long	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967
	.long	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85
	.long	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070
	.long	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3
	.long	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
