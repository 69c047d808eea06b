#include "textflag.h"

// The AVX2 kernels of q8.go. Each takes pointers and counts checked by
// its Go wrapper (q8_amd64.go) and returns a float32.

DATA nibbles<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibbles<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibbles<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibbles<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL nibbles<>(SB), RODATA|NOPTR, $32

DATA ones16<>+0(SB)/8, $0x0001000100010001
DATA ones16<>+8(SB)/8, $0x0001000100010001
DATA ones16<>+16(SB)/8, $0x0001000100010001
DATA ones16<>+24(SB)/8, $0x0001000100010001
GLOBL ones16<>(SB), RODATA|NOPTR, $32

// AHEAD asks for the weight bytes 3 KiB ahead of the ones a kernel reads:
// weights stream from memory once per product, and the hardware
// prefetcher alone left a decode step at 9.7 GB/s of weights on the
// project's x86 machine (two threads) where prefetching 1 KiB ahead gives
// 12.7 and 2 to 4 KiB 12.9 to 13.5 (one thread: 8.9 at 1 KiB, 10.0 to
// 10.5 at 2 to 4 KiB; BenchmarkQwen25_05B). A prefetch past the end of
// the weights is harmless: it never faults.
#define AHEAD PREFETCHT0 3072(SI)

// HSUM adds the eight floats of Y0 and the scalar X7 into X0.
#define HSUM \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVHLPS     X0, X0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVSHDUP    X0, X1; \
	VADDSS       X1, X0, X0; \
	VADDSS       X7, X0, X0

// Q4CHUNK leaves in Y1 the eight float32 integer sums of one 64-value
// chunk of 4-bit weights at SI with its activations at DI: lanes 0-3 are
// the first 32-value block's, lanes 4-7 the second's (see q8Layout).
#define Q4CHUNK \
	VMOVDQU    (SI), Y1; \
	VPSRLW     $4, Y1, Y2; \
	VPAND      Y15, Y1, Y1; \
	VPAND      Y15, Y2, Y2; \
	VPMADDUBSW (DI), Y1, Y1; \
	VPMADDUBSW 32(DI), Y2, Y2; \
	VPADDW     Y2, Y1, Y1; \
	VPMADDWD   Y14, Y1, Y1; \
	VCVTDQ2PS  Y1, Y1

// func dotQ4Q8AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, groups int, per int, rows int, out *float32)
// rows ≥ 1 consecutive weight rows of groups ≥ 1 groups of per ≥ 1
// chunks of 64 values, their scales and biases consecutive too; out[i]
// is row i's product with the one row of activations.
TEXT ·dotQ4Q8AVX2(SB), NOSPLIT, $0-80
	MOVQ q+0(FP), SI
	MOVQ sc+24(FP), R8
	MOVQ bi+32(FP), R9
	MOVQ per+56(FP), R11
	MOVQ rows+64(FP), R12
	MOVQ out+72(FP), R13
	VMOVDQU nibbles<>(SB), Y15
	VMOVDQU ones16<>(SB), Y14

q4row:
	MOVQ   xq+8(FP), DI
	MOVQ   d4+16(FP), DX
	MOVQ   xs+40(FP), R10
	MOVQ   groups+48(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y7, Y7, Y7

q4group:
	VXORPS Y4, Y4, Y4
	MOVQ   R11, BX

q4chunk:
	AHEAD
	Q4CHUNK
	VFMADD231PS (DX), Y1, Y4
	ADDQ        $32, SI
	ADDQ        $64, DI
	ADDQ        $32, DX
	DECQ        BX
	JNZ         q4chunk
	VBROADCASTSS (R8), Y5
	VFMADD231PS  Y5, Y4, Y0
	VMOVSS       (R9), X6
	VFMADD231SS  (R10), X6, X7
	ADDQ         $4, R8
	ADDQ         $4, R9
	ADDQ         $4, R10
	DECQ         CX
	JNZ          q4group
	HSUM
	VMOVSS X0, (R13)
	ADDQ   $4, R13
	DECQ   R12
	JNZ    q4row
	VZEROUPPER
	RET

// func dotQ4Q8G32AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, chunks int, rows int, out *float32)
// dotQ4Q8AVX2 for rows of chunks ≥ 1 chunks of 64 values, each two groups
// of 32.
TEXT ·dotQ4Q8G32AVX2(SB), NOSPLIT, $0-72
	MOVQ q+0(FP), SI
	MOVQ sc+24(FP), R8
	MOVQ bi+32(FP), R9
	MOVQ rows+56(FP), R12
	MOVQ out+64(FP), R13
	VMOVDQU nibbles<>(SB), Y15
	VMOVDQU ones16<>(SB), Y14

g32row:
	MOVQ   xq+8(FP), DI
	MOVQ   d4+16(FP), DX
	MOVQ   xs+40(FP), R10
	MOVQ   chunks+48(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y7, Y7, Y7

g32chunk:
	AHEAD
	Q4CHUNK
	VMULPS       (DX), Y1, Y1
	VBROADCASTSS (R8), X5
	VBROADCASTSS 4(R8), X6
	VINSERTF128  $1, X6, Y5, Y5
	VFMADD231PS  Y5, Y1, Y0
	VMOVSS       (R9), X6
	VFMADD231SS  (R10), X6, X7
	VMOVSS       4(R9), X6
	VFMADD231SS  4(R10), X6, X7
	ADDQ         $32, SI
	ADDQ         $64, DI
	ADDQ         $32, DX
	ADDQ         $8, R8
	ADDQ         $8, R9
	ADDQ         $8, R10
	DECQ         CX
	JNZ          g32chunk
	HSUM
	VMOVSS X0, (R13)
	ADDQ   $4, R13
	DECQ   R12
	JNZ    g32row
	VZEROUPPER
	RET

// func dotQ8Q8AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, groups int, per int, rows int, out *float32)
// dotQ4Q8AVX2 for 8-bit weights: groups ≥ 1 groups of per ≥ 1 blocks of
// 32 values. The weights (0..255) and activations are widened to 16 bits:
// VPMADDUBSW would saturate on 255·127 + 255·127.
TEXT ·dotQ8Q8AVX2(SB), NOSPLIT, $0-80
	MOVQ q+0(FP), SI
	MOVQ sc+24(FP), R8
	MOVQ bi+32(FP), R9
	MOVQ per+56(FP), R11
	MOVQ rows+64(FP), R12
	MOVQ out+72(FP), R13

q8row:
	MOVQ   xq+8(FP), DI
	MOVQ   d4+16(FP), DX
	MOVQ   xs+40(FP), R10
	MOVQ   groups+48(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y7, Y7, Y7

q8group:
	VXORPS Y4, Y4, Y4
	MOVQ   R11, BX

q8block:
	AHEAD
	VPMOVZXBW    (SI), Y1
	VPMOVSXBW    (DI), Y2
	VPMADDWD     Y2, Y1, Y1
	VPMOVZXBW    16(SI), Y2
	VPMOVSXBW    16(DI), Y3
	VPMADDWD     Y3, Y2, Y2
	VPADDD       Y2, Y1, Y1
	VCVTDQ2PS    Y1, Y1
	VBROADCASTSS (DX), Y2
	VFMADD231PS  Y2, Y1, Y4
	ADDQ         $32, SI
	ADDQ         $32, DI
	ADDQ         $16, DX
	DECQ         BX
	JNZ          q8block
	VBROADCASTSS (R8), Y5
	VFMADD231PS  Y5, Y4, Y0
	VMOVSS       (R9), X6
	VFMADD231SS  (R10), X6, X7
	ADDQ         $4, R8
	ADDQ         $4, R9
	ADDQ         $4, R10
	DECQ         CX
	JNZ          q8group
	HSUM
	VMOVSS X0, (R13)
	ADDQ   $4, R13
	DECQ   R12
	JNZ    q8row
	VZEROUPPER
	RET

// func cvtBF16AVX2(dst *float32, src *uint16, n int)
// n a multiple of 8: bfloat16 is the top half of a float32.
TEXT ·cvtBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   bfdone

bfloop:
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       bfloop

bfdone:
	VZEROUPPER
	RET

// func cvtF16F16C(dst *float32, src *uint16, n int)
// n a multiple of 8.
TEXT ·cvtF16F16C(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   hdone

hloop:
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       hloop

hdone:
	VZEROUPPER
	RET

// func cpuidECX1() uint32
// ECX of CPUID leaf 1 (bit 29: F16C).
TEXT ·cpuidECX1(SB), NOSPLIT, $0-4
	MOVL  $1, AX
	XORL  CX, CX
	CPUID
	MOVL  CX, ret+0(FP)
	RET

// G64STEP is one 64-value group of 4-bit weights (its scale at R8+off,
// bias at R9+off, activation sum at R10+off, d at DX+2*off·4) into the
// vector accumulator ACC and the scalar one X7.
#define G64STEP(off, doff, qoff, xoff, ACC) \
	VMOVDQU      qoff(SI), Y1; \
	VPSRLW       $4, Y1, Y2; \
	VPAND        Y15, Y1, Y1; \
	VPAND        Y15, Y2, Y2; \
	VPMADDUBSW   xoff(DI), Y1, Y1; \
	VPMADDUBSW   xoff+32(DI), Y2, Y2; \
	VPADDW       Y2, Y1, Y1; \
	VPMADDWD     Y14, Y1, Y1; \
	VCVTDQ2PS    Y1, Y1; \
	VMULPS       doff(DX), Y1, Y1; \
	VBROADCASTSS off(R8), Y5; \
	VFMADD231PS  Y5, Y1, ACC; \
	VMOVSS       off(R9), X6; \
	VFMADD231SS  off(R10), X6, X7

// func dotQ4Q8G64AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, groups int, rows int, out *float32)
// dotQ4Q8AVX2 for groups of 64 (one chunk each), two groups per step into
// two accumulators: one FMA chain per group would wait on its latency.
TEXT ·dotQ4Q8G64AVX2(SB), NOSPLIT, $0-72
	MOVQ q+0(FP), SI
	MOVQ sc+24(FP), R8
	MOVQ bi+32(FP), R9
	MOVQ rows+56(FP), R12
	MOVQ out+64(FP), R13
	VMOVDQU nibbles<>(SB), Y15
	VMOVDQU ones16<>(SB), Y14

g64row:
	MOVQ   xq+8(FP), DI
	MOVQ   d4+16(FP), DX
	MOVQ   xs+40(FP), R10
	MOVQ   groups+48(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y8, Y8, Y8
	VXORPS Y7, Y7, Y7

g64pair:
	AHEAD
	CMPQ CX, $2
	JL   g64last
	G64STEP(0, 0, 0, 0, Y0)
	G64STEP(4, 32, 32, 64, Y8)
	ADDQ $64, SI
	ADDQ $128, DI
	ADDQ $64, DX
	ADDQ $8, R8
	ADDQ $8, R9
	ADDQ $8, R10
	SUBQ $2, CX
	JMP  g64pair

g64last:
	TESTQ CX, CX
	JZ    g64sum
	G64STEP(0, 0, 0, 0, Y0)
	ADDQ  $32, SI
	ADDQ  $4, R8
	ADDQ  $4, R9

g64sum:
	VADDPS Y8, Y0, Y0
	HSUM
	VMOVSS X0, (R13)
	ADDQ   $4, R13
	DECQ   R12
	JNZ    g64row
	VZEROUPPER
	RET

// G64VNNI is G64STEP with VPDPBUSD.
#define G64VNNI(off, doff, qoff, xoff, ACC) \
	VMOVDQU      qoff(SI), Y1; \
	VPSRLW       $4, Y1, Y2; \
	VPAND        Y15, Y1, Y1; \
	VPAND        Y15, Y2, Y2; \
	VPXOR        Y3, Y3, Y3; \
	VPDPBUSD     xoff(DI), Y1, Y3; \
	VPDPBUSD     xoff+32(DI), Y2, Y3; \
	VCVTDQ2PS    Y3, Y1; \
	VMULPS       doff(DX), Y1, Y1; \
	VBROADCASTSS off(R8), Y5; \
	VFMADD231PS  Y5, Y1, ACC; \
	VMOVSS       off(R9), X6; \
	VFMADD231SS  off(R10), X6, X7

// func dotQ4Q8G64VNNI(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, groups int, rows int, out *float32)
// dotQ4Q8G64AVX2 with VPDPBUSD (see dotQ4Q8G64x4VNNI).
TEXT ·dotQ4Q8G64VNNI(SB), NOSPLIT, $0-72
	MOVQ q+0(FP), SI
	MOVQ sc+24(FP), R8
	MOVQ bi+32(FP), R9
	MOVQ rows+56(FP), R12
	MOVQ out+64(FP), R13
	VMOVDQU nibbles<>(SB), Y15
	VMOVDQU ones16<>(SB), Y14

vg64row:
	MOVQ   xq+8(FP), DI
	MOVQ   d4+16(FP), DX
	MOVQ   xs+40(FP), R10
	MOVQ   groups+48(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y8, Y8, Y8
	VXORPS Y7, Y7, Y7

vg64pair:
	AHEAD
	CMPQ CX, $2
	JL   vg64last
	G64VNNI(0, 0, 0, 0, Y0)
	G64VNNI(4, 32, 32, 64, Y8)
	ADDQ $64, SI
	ADDQ $128, DI
	ADDQ $64, DX
	ADDQ $8, R8
	ADDQ $8, R9
	ADDQ $8, R10
	SUBQ $2, CX
	JMP  vg64pair

vg64last:
	TESTQ CX, CX
	JZ    vg64sum
	G64VNNI(0, 0, 0, 0, Y0)
	ADDQ  $32, SI
	ADDQ  $4, R8
	ADDQ  $4, R9

vg64sum:
	VADDPS Y8, Y0, Y0
	HSUM
	VMOVSS X0, (R13)
	ADDQ   $4, R13
	DECQ   R12
	JNZ    vg64row
	VZEROUPPER
	RET

// X4ROW is one row of x's share of a 64-value group in dotQ4Q8G64x4AVX2:
// the weights' nibbles in Y12 (low) and Y13 (high), the row's
// activations at XQ, its scales at D, into the accumulator ACC.
#define X4ROW(XQ, XQ32, D, ACC) \
	VPMADDUBSW XQ, Y12, Y0; \
	VPMADDUBSW XQ32, Y13, Y1; \
	VPADDW     Y1, Y0, Y0; \
	VPMADDWD   Y14, Y0, Y0; \
	VCVTDQ2PS  Y0, Y0; \
	VMULPS     D, Y0, Y0; \
	VFMADD231PS Y5, Y0, ACC

// func dotQ4Q8G64x4AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs4 *float32, groups int, cols int, rows int, out *float32)
// The product of rows ≥ 1 consecutive weight rows (4-bit, groups ≥ 1
// groups of 64) with four rows of x at once (prefill): xq and d4 hold the
// four rows cols bytes and cols/8 floats apart, xs4 the four rows'
// activation sums of each group side by side; out[4i+r] is weight row i
// times x row r. Each weight chunk is unpacked once for the four rows,
// and the four accumulators make independent FMA chains.
TEXT ·dotQ4Q8G64x4AVX2(SB), NOSPLIT, $0-80
	MOVQ q+0(FP), SI
	MOVQ sc+24(FP), R8
	MOVQ bi+32(FP), R9
	MOVQ cols+56(FP), BX
	MOVQ BX, AX
	SHRQ $1, AX
	MOVQ rows+64(FP), R12
	MOVQ out+72(FP), R13
	VMOVDQU nibbles<>(SB), Y15
	VMOVDQU ones16<>(SB), Y14

x4row:
	MOVQ   xq+8(FP), DI
	LEAQ   (DI)(BX*2), R11
	MOVQ   d4+16(FP), DX
	LEAQ   (DX)(AX*2), R14
	MOVQ   xs4+40(FP), R10
	MOVQ   groups+48(FP), CX
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y7, Y7, Y7

x4group:
	AHEAD
	VMOVDQU      (SI), Y12
	VPSRLW       $4, Y12, Y13
	VPAND        Y15, Y12, Y12
	VPAND        Y15, Y13, Y13
	VBROADCASTSS (R8), Y5
	X4ROW((DI), 32(DI), (DX), Y8)
	X4ROW((DI)(BX*1), 32(DI)(BX*1), (DX)(AX*1), Y9)
	X4ROW((R11), 32(R11), (R14), Y10)
	X4ROW((R11)(BX*1), 32(R11)(BX*1), (R14)(AX*1), Y11)
	VBROADCASTSS (R9), X6
	VFMADD231PS  (R10), X6, X7
	ADDQ         $32, SI
	ADDQ         $64, DI
	ADDQ         $64, R11
	ADDQ         $32, DX
	ADDQ         $32, R14
	ADDQ         $4, R8
	ADDQ         $4, R9
	ADDQ         $16, R10
	DECQ         CX
	JNZ          x4group

	// The four rows' sums side by side, plus their bias terms.
	VEXTRACTF128 $1, Y8, X0
	VADDPS       X0, X8, X8
	VEXTRACTF128 $1, Y9, X1
	VADDPS       X1, X9, X9
	VEXTRACTF128 $1, Y10, X2
	VADDPS       X2, X10, X10
	VEXTRACTF128 $1, Y11, X3
	VADDPS       X3, X11, X11
	VHADDPS      X9, X8, X8
	VHADDPS      X11, X10, X10
	VHADDPS      X10, X8, X8
	VADDPS       X7, X8, X8
	VMOVUPS      X8, (R13)
	ADDQ         $16, R13
	DECQ         R12
	JNZ          x4row
	VZEROUPPER
	RET

// X4VNNI is X4ROW with VPDPBUSD into a zeroed Y0.
#define X4VNNI(XQ, XQ32, D, ACC) \
	VPXOR       Y0, Y0, Y0; \
	VPDPBUSD    XQ, Y12, Y0; \
	VPDPBUSD    XQ32, Y13, Y0; \
	VCVTDQ2PS   Y0, Y0; \
	VMULPS      D, Y0, Y0; \
	VFMADD231PS Y5, Y0, ACC

// func dotQ4Q8G64x4VNNI(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs4 *float32, groups int, cols int, rows int, out *float32)
// dotQ4Q8G64x4AVX2 with AVX-512 VNNI's VPDPBUSD on 256-bit registers
// (EVEX-encoded, so it needs AVX512VL): one instruction multiplies and
// sums what VPMADDUBSW, VPADDW and VPMADDWD do in four, and 256-bit
// operations keep all three vector ports (512-bit ones use two: a 512-bit
// version measured no faster than AVX2).
TEXT ·dotQ4Q8G64x4VNNI(SB), NOSPLIT, $0-80
	MOVQ q+0(FP), SI
	MOVQ sc+24(FP), R8
	MOVQ bi+32(FP), R9
	MOVQ cols+56(FP), BX
	MOVQ BX, AX
	SHRQ $1, AX
	MOVQ rows+64(FP), R12
	MOVQ out+72(FP), R13
	VMOVDQU nibbles<>(SB), Y15
	VMOVDQU ones16<>(SB), Y14

vx4row:
	MOVQ   xq+8(FP), DI
	LEAQ   (DI)(BX*2), R11
	MOVQ   d4+16(FP), DX
	LEAQ   (DX)(AX*2), R14
	MOVQ   xs4+40(FP), R10
	MOVQ   groups+48(FP), CX
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y7, Y7, Y7

vx4group:
	AHEAD
	VMOVDQU      (SI), Y12
	VPSRLW       $4, Y12, Y13
	VPAND        Y15, Y12, Y12
	VPAND        Y15, Y13, Y13
	VBROADCASTSS (R8), Y5
	X4VNNI((DI), 32(DI), (DX), Y8)
	X4VNNI((DI)(BX*1), 32(DI)(BX*1), (DX)(AX*1), Y9)
	X4VNNI((R11), 32(R11), (R14), Y10)
	X4VNNI((R11)(BX*1), 32(R11)(BX*1), (R14)(AX*1), Y11)
	VBROADCASTSS (R9), X6
	VFMADD231PS  (R10), X6, X7
	ADDQ         $32, SI
	ADDQ         $64, DI
	ADDQ         $64, R11
	ADDQ         $32, DX
	ADDQ         $32, R14
	ADDQ         $4, R8
	ADDQ         $4, R9
	ADDQ         $16, R10
	DECQ         CX
	JNZ          vx4group

	// The four rows' sums side by side, plus their bias terms.
	VEXTRACTF128 $1, Y8, X0
	VADDPS       X0, X8, X8
	VEXTRACTF128 $1, Y9, X1
	VADDPS       X1, X9, X9
	VEXTRACTF128 $1, Y10, X2
	VADDPS       X2, X10, X10
	VEXTRACTF128 $1, Y11, X3
	VADDPS       X3, X11, X11
	VHADDPS      X9, X8, X8
	VHADDPS      X11, X10, X10
	VHADDPS      X10, X8, X8
	VADDPS       X7, X8, X8
	VMOVUPS      X8, (R13)
	ADDQ         $16, R13
	DECQ         R12
	JNZ          vx4row
	VZEROUPPER
	RET

// func sumStreamAVX2(p *uint64, n int) uint64
// The wrapping sum of n ≥ 16 (a multiple of 16) words, 128 bytes per step
// into four accumulators, prefetching as the weight kernels do (AHEAD):
// MemoryBandwidth's reader.
TEXT ·sumStreamAVX2(SB), NOSPLIT, $0-24
	MOVQ   p+0(FP), SI
	MOVQ   n+8(FP), CX
	SHRQ   $4, CX
	VPXOR  Y0, Y0, Y0
	VPXOR  Y1, Y1, Y1
	VPXOR  Y2, Y2, Y2
	VPXOR  Y3, Y3, Y3

sumstep:
	AHEAD
	PREFETCHT0 3136(SI)
	VPADDQ (SI), Y0, Y0
	VPADDQ 32(SI), Y1, Y1
	VPADDQ 64(SI), Y2, Y2
	VPADDQ 96(SI), Y3, Y3
	ADDQ   $128, SI
	DECQ   CX
	JNZ    sumstep
	VPADDQ Y1, Y0, Y0
	VPADDQ Y3, Y2, Y2
	VPADDQ Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ  X0, AX
	MOVQ   AX, ret+16(FP)
	VZEROUPPER
	RET

// X8VNNI is one row of x's share of a 32-value block of 8-bit weights in
// dotQ8Q8x4VNNI: the weights in Y12, the row's activations at XQ, its
// block scale d at D, the group's scale in Y5, into ACC.
#define X8VNNI(XQ, D, ACC) \
	VPXOR        Y0, Y0, Y0; \
	VPDPBUSD     XQ, Y12, Y0; \
	VCVTDQ2PS    Y0, Y0; \
	VBROADCASTSS D, Y1; \
	VMULPS       Y1, Y0, Y0; \
	VFMADD231PS  Y5, Y0, ACC

// func dotQ8Q8x4VNNI(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs4 *float32, groups int, per int, cols int, rows int, out *float32)
// The four-row product (prefill) for 8-bit weights, groups ≥ 1 groups of
// per ≥ 1 blocks of 32, with VPDPBUSD: the weights (0..255) are its
// unsigned operand as they are, with no widening (VPMADDUBSW would
// saturate on them, so AVX2 has no four-row 8-bit kernel). The layout of
// xq, d4, xs4 and out is dotQ4Q8G64x4AVX2's.
TEXT ·dotQ8Q8x4VNNI(SB), NOSPLIT, $0-88
	MOVQ    q+0(FP), SI
	MOVQ    sc+24(FP), R8
	MOVQ    bi+32(FP), R9
	MOVQ    cols+64(FP), BX
	MOVQ    BX, AX
	SHRQ    $1, AX
	MOVQ    out+80(FP), R13

w8row:
	MOVQ   xq+8(FP), DI
	LEAQ   (DI)(BX*2), R11
	MOVQ   d4+16(FP), DX
	LEAQ   (DX)(AX*2), R14
	MOVQ   xs4+40(FP), R10
	MOVQ   groups+48(FP), CX
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y7, Y7, Y7

w8group:
	VBROADCASTSS (R8), Y5
	MOVQ         per+56(FP), R12

w8block:
	AHEAD
	VMOVDQU (SI), Y12
	X8VNNI((DI), (DX), Y8)
	X8VNNI((DI)(BX*1), (DX)(AX*1), Y9)
	X8VNNI((R11), (R14), Y10)
	X8VNNI((R11)(BX*1), (R14)(AX*1), Y11)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, R11
	ADDQ    $16, DX
	ADDQ    $16, R14
	DECQ    R12
	JNZ     w8block
	VBROADCASTSS (R9), X6
	VFMADD231PS  (R10), X6, X7
	ADDQ         $4, R8
	ADDQ         $4, R9
	ADDQ         $16, R10
	DECQ         CX
	JNZ          w8group

	VEXTRACTF128 $1, Y8, X0
	VADDPS       X0, X8, X8
	VEXTRACTF128 $1, Y9, X1
	VADDPS       X1, X9, X9
	VEXTRACTF128 $1, Y10, X2
	VADDPS       X2, X10, X10
	VEXTRACTF128 $1, Y11, X3
	VADDPS       X3, X11, X11
	VHADDPS      X9, X8, X8
	VHADDPS      X11, X10, X10
	VHADDPS      X10, X8, X8
	VADDPS       X7, X8, X8
	VMOVUPS      X8, (R13)
	ADDQ         $16, R13
	DECQ         rows+72(FP) // the argument slot is the row counter: every register is taken
	JNZ          w8row
	VZEROUPPER
	RET
