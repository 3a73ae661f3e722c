/* vecmath.h - internal to the C core (not part of the API in pynn.h): 8-wide float vectors, the target-clone
 * switch that picks AVX2+FMA at load time, and vectorised exp, sigmoid and tanh for the LSTM gates.
 *
 * Why own exp/tanh: libm's expf and tanhf are scalar calls (tens of nanoseconds each), and an LSTM step does
 * five per cell, which cost more than the step's matrix multiply. These are the Cephes single-precision
 * polynomials (a couple of ulps for exp; tanh within 1e-7 absolute), eight lanes at a time, branch-free,
 * so every element gets the same arithmetic whether it sits in a full vector or the padded tail. */
#ifndef PYNN_VECMATH_H
#define PYNN_VECMATH_H

/* The helpers below are always inlined, so the vector-return ABI note GCC gives without -mavx is moot. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float v8f __attribute__((vector_size(32)));
/* The same vector at any float address: rows of a batch are not 32-byte aligned. */
typedef float v8f_unaligned __attribute__((vector_size(32), aligned(4), may_alias));
typedef int v8i __attribute__((vector_size(32)));
typedef unsigned v8u __attribute__((vector_size(32)));
#define LOAD8(p) ((v8f)(*(const v8f_unaligned *)(p)))
#define STORE8(p, v) (*(v8f_unaligned *)(p) = (v))

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define TILE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef TILE_CLONES
#define TILE_CLONES
#endif

static inline __attribute__((always_inline)) v8f v8_splat(float x) { return (v8f){x, x, x, x, x, x, x, x}; }

/* mask ? a : b lane by lane, mask from a vector comparison (all ones or all zeros); C has no vector ?: */
static inline __attribute__((always_inline)) v8f v8_select(v8i mask, v8f a, v8f b) {
    return (v8f)((mask & (v8i)a) | (~mask & (v8i)b));
}
/* x limited to [lo, hi]; a NaN stays NaN, so a diverging network still shows a NaN loss */
static inline __attribute__((always_inline)) v8f v8_clamp(v8f x, float lo, float hi) {
    x = v8_select(x < v8_splat(lo), v8_splat(lo), x);
    return v8_select(x > v8_splat(hi), v8_splat(hi), x);
}

/* exp(x), x clamped to [-87.3, 88.3] so 2^n stays a normal float (exp(-87.3) is within 2% of FLT_MIN). */
static inline __attribute__((always_inline)) v8f v8_exp(v8f x) {
    x = v8_clamp(x, -87.3f, 88.3f);
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |n| < 2^22): t's low mantissa bits hold n; then
     * x - n ln 2 in two parts */
    const v8f magic = v8_splat(12582912.0f);
    v8f t = x * v8_splat(1.44269504088896341f) + magic;
    v8f n = t - magic;
    x = x - n * v8_splat(0.693359375f);
    x = x - n * v8_splat(-2.12194440e-4f);
    v8f y = v8_splat(1.9875691500e-4f);
    y = y * x + v8_splat(1.3981999507e-3f);
    y = y * x + v8_splat(8.3334519073e-3f);
    y = y * x + v8_splat(4.1665795894e-2f);
    y = y * x + v8_splat(1.6666665459e-1f);
    y = y * x + v8_splat(5.0000001201e-1f);
    y = y * (x * x) + x + v8_splat(1.0f);
    /* 2^n: n + 127 into the exponent field, taken from t's bits in unsigned arithmetic. Converting n to int
     * instead was undefined for a NaN x (and shifted a negative int); a NaN x still gives NaN, through y. */
    v8u bits = ((v8u)t - (v8u)magic + 127) << 23;
    return y * (v8f)bits;
}

/* 1 / (1 + exp(-x)); for x -> -inf exp(-x) is clamped large, so the result goes to 0 without overflow. */
static inline __attribute__((always_inline)) v8f v8_sigmoid(v8f x) {
    return v8_splat(1.0f) / (v8_splat(1.0f) + v8_exp(-x));
}

/* tanh(x): an odd polynomial below |x| = 0.625 (where 1 - 2/(e^2x + 1) would cancel), that formula above. */
static inline __attribute__((always_inline)) v8f v8_tanh(v8f x) {
    v8f ax = (v8f)((v8i)x & 0x7fffffff);
    v8f z = x * x;
    v8f p = v8_splat(-5.70498872745e-3f);
    p = p * z + v8_splat(2.06390887954e-2f);
    p = p * z + v8_splat(-5.37397155531e-2f);
    p = p * z + v8_splat(1.33314422036e-1f);
    p = p * z + v8_splat(-3.33332819422e-1f);
    v8f small = p * z * x + x;
    v8f big = v8_splat(1.0f) - v8_splat(2.0f) / (v8_exp(ax + ax) + v8_splat(1.0f));
    big = v8_select(x < v8_splat(0.0f), -big, big);
    return v8_select(ax < v8_splat(0.625f), small, big);
}

#endif
