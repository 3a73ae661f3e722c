/* vecmath.h - internal to the C core (not part of the API in pynn.h): float vectors of the build's native width
 * (16 lanes where the compiler targets AVX-512, 8 elsewhere) and of 8 lanes, and vectorised exp, sigmoid and
 * tanh for the LSTM gates and the dense activations.
 *
 * Why own exp/tanh: libm's expf and tanhf are scalar calls (tens of nanoseconds each), and an LSTM step does
 * five per cell, which cost more than the step's matrix multiply. These are the Cephes single-precision
 * polynomials (a couple of ulps for exp; tanh within 1e-7 absolute), a whole vector at a time, branch-free,
 * so every element gets the same arithmetic whether it sits in a full vector or the padded tail.
 *
 * Why the width is the build's: pynn/_build.py compiles the core once per ISA (portable, x86-64-v3, x86-64-v4)
 * and pynn.core loads one of them, so __AVX512F__ is known here at compile time. */
#ifndef PYNN_VECMATH_H
#define PYNN_VECMATH_H

/* The helpers below are always inlined, so the vector-return ABI note GCC gives without -mavx is moot. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#if defined(__AVX512F__)
#define VW 16
#define PYNN_BUILD_ISA "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#define VW 8
#define PYNN_BUILD_ISA "avx2"
#else
#define VW 8
#define PYNN_BUILD_ISA "generic"
#endif

/* The native vector: VW floats. The unaligned twin reads and writes it at any float address (rows of a batch
 * are not vector-aligned). */
typedef float vf __attribute__((vector_size(4 * VW)));
typedef float vf_unaligned __attribute__((vector_size(4 * VW), aligned(4), may_alias));
typedef int vi __attribute__((vector_size(4 * VW)));
typedef unsigned vu __attribute__((vector_size(4 * VW)));
#define LOADV(p) ((vf)(*(const vf_unaligned *)(p)))
#define STOREV(p, v) (*(vf_unaligned *)(p) = (v))

/* 8 floats whatever the build: the 8 x 8 transposes of the packing routines and the dot-product tiles. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_unaligned __attribute__((vector_size(32), aligned(4), may_alias));
typedef int v8i __attribute__((vector_size(32)));
#define LOAD8(p) ((v8f)(*(const v8f_unaligned *)(p)))
#define STORE8(p, v) (*(v8f_unaligned *)(p) = (v))

/* Each build is compiled for one ISA, so nothing is cloned any more; kept for code that still marks its hot
 * functions. */
#define TILE_CLONES

/* Threads for a parallel region doing about `flops` floating-point operations (matmul.c): 1 when the work is
 * too small to pay for waking a team, inside another team, or when the other cores are busy. */
int pynn_team_size(double flops);

static inline __attribute__((always_inline)) vf vf_splat(float x) { return x - (vf){0}; }

/* mask ? a : b lane by lane, mask from a vector comparison (all ones or all zeros); C has no vector ?: */
static inline __attribute__((always_inline)) vf vf_select(vi mask, vf a, vf b) {
    return (vf)((mask & (vi)a) | (~mask & (vi)b));
}
/* x limited to [lo, hi]; a NaN stays NaN, so a diverging network still shows a NaN loss */
static inline __attribute__((always_inline)) vf vf_clamp(vf x, float lo, float hi) {
    x = vf_select(x < vf_splat(lo), vf_splat(lo), x);
    return vf_select(x > vf_splat(hi), vf_splat(hi), x);
}

/* exp(x), x clamped to [-87.3, 88.3] so 2^n stays a normal float (exp(-87.3) is within 2% of FLT_MIN). */
static inline __attribute__((always_inline)) vf vf_exp(vf x) {
    x = vf_clamp(x, -87.3f, 88.3f);
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |n| < 2^22): t's low mantissa bits hold n; then
     * x - n ln 2 in two parts */
    const vf magic = vf_splat(12582912.0f);
    vf t = x * vf_splat(1.44269504088896341f) + magic;
    vf n = t - magic;
    x = x - n * vf_splat(0.693359375f);
    x = x - n * vf_splat(-2.12194440e-4f);
    vf y = vf_splat(1.9875691500e-4f);
    y = y * x + vf_splat(1.3981999507e-3f);
    y = y * x + vf_splat(8.3334519073e-3f);
    y = y * x + vf_splat(4.1665795894e-2f);
    y = y * x + vf_splat(1.6666665459e-1f);
    y = y * x + vf_splat(5.0000001201e-1f);
    y = y * (x * x) + x + vf_splat(1.0f);
    /* 2^n: n + 127 into the exponent field, taken from t's bits in unsigned arithmetic. Converting n to int
     * instead was undefined for a NaN x (and shifted a negative int); a NaN x still gives NaN, through y. */
    vu bits = ((vu)t - (vu)magic + 127) << 23;
    return y * (vf)bits;
}

/* 1 / (1 + exp(-x)); for x -> -inf exp(-x) is clamped large, so the result goes to 0 without overflow. */
static inline __attribute__((always_inline)) vf vf_sigmoid(vf x) {
    return vf_splat(1.0f) / (vf_splat(1.0f) + vf_exp(-x));
}

/* tanh(x): an odd polynomial below |x| = 0.625 (where 1 - 2/(e^2x + 1) would cancel), that formula above. */
static inline __attribute__((always_inline)) vf vf_tanh(vf x) {
    vf ax = (vf)((vi)x & 0x7fffffff);
    vf z = x * x;
    vf p = vf_splat(-5.70498872745e-3f);
    p = p * z + vf_splat(2.06390887954e-2f);
    p = p * z + vf_splat(-5.37397155531e-2f);
    p = p * z + vf_splat(1.33314422036e-1f);
    p = p * z + vf_splat(-3.33332819422e-1f);
    vf small = p * z * x + x;
    vf big = vf_splat(1.0f) - vf_splat(2.0f) / (vf_exp(ax + ax) + vf_splat(1.0f));
    big = vf_select(x < vf_splat(0.0f), -big, big);
    return vf_select(ax < vf_splat(0.625f), small, big);
}

#endif
