#include "textflag.h"

// Float dot products for the dense (F32, F16, BF16) paths: FMA on eight
// lanes, four accumulators to cover its latency. n is a multiple of 8
// (the Go wrappers in dot_amd64.go do the rest).

// HSUM4 adds Y0..Y3 lane-wise, then the eight lanes, into X0.
#define HSUM4 \
	VADDPS       Y1, Y0, Y0; \
	VADDPS       Y3, Y2, Y2; \
	VADDPS       Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVHLPS     X0, X0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVSHDUP    X0, X1; \
	VADDSS       X1, X0, X0; \
	VZEROUPPER

// func dotF32AVX2(w *float32, x *float32, n int) float32
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

f32loop32:
	CMPQ CX, $32
	JL   f32loop8
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	VMOVUPS 32(SI), Y5
	VFMADD231PS 32(DI), Y5, Y1
	VMOVUPS 64(SI), Y6
	VFMADD231PS 64(DI), Y6, Y2
	VMOVUPS 96(SI), Y7
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  f32loop32

f32loop8:
	CMPQ CX, $8
	JL   f32done
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  f32loop8

f32done:
	HSUM4
	MOVSS X0, ret+24(FP)
	RET

// func dotBF16AVX2(w *uint16, x *float32, n int) float32
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

bf16loop32:
	CMPQ CX, $32
	JL   bf16loop8
	VPMOVZXWD (SI), Y4
	VPSLLD $16, Y4, Y4
	VFMADD231PS (DI), Y4, Y0
	VPMOVZXWD 16(SI), Y5
	VPSLLD $16, Y5, Y5
	VFMADD231PS 32(DI), Y5, Y1
	VPMOVZXWD 32(SI), Y6
	VPSLLD $16, Y6, Y6
	VFMADD231PS 64(DI), Y6, Y2
	VPMOVZXWD 48(SI), Y7
	VPSLLD $16, Y7, Y7
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  bf16loop32

bf16loop8:
	CMPQ CX, $8
	JL   bf16done
	VPMOVZXWD (SI), Y4
	VPSLLD $16, Y4, Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  bf16loop8

bf16done:
	HSUM4
	MOVSS X0, ret+24(FP)
	RET

// func dotF16F16C(w *uint16, x *float32, n int) float32
TEXT ·dotF16F16C(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

f16loop32:
	CMPQ CX, $32
	JL   f16loop8
	VCVTPH2PS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	VCVTPH2PS 16(SI), Y5
	VFMADD231PS 32(DI), Y5, Y1
	VCVTPH2PS 32(SI), Y6
	VFMADD231PS 64(DI), Y6, Y2
	VCVTPH2PS 48(SI), Y7
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  f16loop32

f16loop8:
	CMPQ CX, $8
	JL   f16done
	VCVTPH2PS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  f16loop8

f16done:
	HSUM4
	MOVSS X0, ret+24(FP)
	RET

// func dot4AVX2(x *float32, w *float32, stride int, n int, out *[4]float32)
// out[i] = Σ x[j]·w[i*stride+j] for the four rows at w, stride floats
// apart: x is read once for the four (dot4).
TEXT ·dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ stride+16(FP), R8
	SHLQ $2, R8
	MOVQ n+24(FP), CX
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX

d4loop:
	CMPQ        CX, $8
	JL          d4done
	VMOVUPS     (DI)(AX*1), Y4
	VFMADD231PS (SI)(AX*1), Y4, Y0
	VFMADD231PS (R9)(AX*1), Y4, Y1
	VFMADD231PS (R10)(AX*1), Y4, Y2
	VFMADD231PS (R11)(AX*1), Y4, Y3
	ADDQ        $32, AX
	SUBQ        $8, CX
	JMP         d4loop

d4done:
	MOVQ out+32(FP), DI
	// Transpose-free horizontal sums: each of Y0..Y3 to one float.
	VEXTRACTF128 $1, Y0, X4
	VADDPS       X4, X0, X0
	VEXTRACTF128 $1, Y1, X5
	VADDPS       X5, X1, X1
	VEXTRACTF128 $1, Y2, X6
	VADDPS       X6, X2, X2
	VEXTRACTF128 $1, Y3, X7
	VADDPS       X7, X3, X3
	VHADDPS      X1, X0, X0
	VHADDPS      X3, X2, X2
	VHADDPS      X2, X0, X0
	VMOVUPS      X0, (DI)
	VZEROUPPER
	RET

// Attention's y += a·x over a cached value row, eight lanes at a time (n a
// multiple of 8).

// func axpyF32AVX2(y *float32, x *float32, a float32, n int)
TEXT ·axpyF32AVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS a+16(FP), Y3
	MOVQ n+24(FP), CX

f32axpy:
	CMPQ CX, $8
	JL   f32axpydone
	VMOVUPS (SI), Y0
	VFMADD213PS (DI), Y3, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  f32axpy

f32axpydone:
	VZEROUPPER
	RET

// func axpyBF16AVX2(y *float32, x *uint16, a float32, n int)
TEXT ·axpyBF16AVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS a+16(FP), Y3
	MOVQ n+24(FP), CX

bf16axpy:
	CMPQ CX, $8
	JL   bf16axpydone
	VPMOVZXWD (SI), Y0
	VPSLLD $16, Y0, Y0
	VFMADD213PS (DI), Y3, Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  bf16axpy

bf16axpydone:
	VZEROUPPER
	RET

// func axpyF16F16C(y *float32, x *uint16, a float32, n int)
TEXT ·axpyF16F16C(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS a+16(FP), Y3
	MOVQ n+24(FP), CX

f16axpy:
	CMPQ CX, $8
	JL   f16axpydone
	VCVTPH2PS (SI), Y0
	VFMADD213PS (DI), Y3, Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  f16axpy

f16axpydone:
	VZEROUPPER
	RET
