/* conv.c - 2-D convolution and max pooling over NHWC activations, on top of pynn_sgemm.
 *
 * Why it is built this way:
 *   - im2col: a chunk of samples' K x K x C input patches are copied into the rows of a matrix (one row per
 *     output position, columns in (kh, kw, c) order) so the convolution is one multiply by the kernel w
 *     (K*K*C, F), whose product is already the NHWC output. With channels last, the K*C values of one kernel
 *     row are contiguous in the input, so a patch row is K copies of K*C floats.
 *   - a direct path for few filters (F a multiple of 8, up to 32: the usual small conv nets): a 5x5 kernel
 *     over one channel makes a patch of 25 values, too thin for the blocked multiply, which packs and pads
 *     to 16 columns. The direct loops keep R output positions x F filters of sums in vector registers and
 *     read the input where it lies (the K*C values under one kernel row are contiguous in NHWC), so nothing
 *     is copied unless the image needs zero padding; dw and dx likewise (dx when C is such a multiple of 8).
 *     Measured on W8's layers (batch 64, one thread), per batch: 28x28x1 -> 8 filters of 5x5, forward 1.53
 *     -> 0.31 ms and dw 2.85 -> 0.58 ms; 12x12x8 -> 16 filters, forward 0.67 -> 0.31 ms, dw and dx 1.54 ->
 *     1.03 ms (later tuning brought these to 0.28, 0.41, 0.29 and 0.84 ms).
 *   - threads split the batch into chunks of a fixed number of samples (set by the shapes only, never by the
 *     thread count), and each chunk's multiplies run single-threaded inside the team. The backward pass sums
 *     each chunk's dw and db on its own and then adds the chunks in order, so every number is the same
 *     whatever the number of threads.
 */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "pynn.h"
#include "vecmath.h"

/* ISO C mode forbids GCC to fuse a*b+c; the loops below are written for one rounding per step */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

/* About this many patch rows per chunk: a chunk's patch matrix (rows x K*K*C) stays in L2 for common sizes,
 * and a batch of 64 small images still makes several chunks to share. */
#define CHUNK_ROWS 512

static int chunk_samples(int Ho, int Wo) {
    int per = CHUNK_ROWS / (Ho * Wo);
    return per > 1 ? per : 1;
}

/* Threads for a call of about `flops` over `chunks` chunks: matmul.c's pynn_team_size (one when the work is
 * small, inside another team, or the other cores are busy), at most one per chunk. */
static int team_for(int chunks, double flops) {
    int team = pynn_team_size(flops);
    return team < chunks ? team : chunks > 0 ? chunks : 1;
}

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* The patch rows of samples [n0, n1) into cols ((n1 - n0) * Ho * Wo, K*K*C); outside the input reads zeros. */
static void im2col(float *restrict cols, const float *restrict x, int n0, int n1, int H, int W, int C, int K,
                   int stride, int pad_top, int pad_left, int Ho, int Wo) {
    const int KC = K * C, KKC = K * KC;
    for (int n = n0; n < n1; n++) {
        const float *restrict xn = x + (long)n * H * W * C;
        for (int i = 0; i < Ho; i++) {
            for (int j = 0; j < Wo; j++) {
                float *restrict row = cols + ((long)((n - n0) * Ho + i) * Wo + j) * KKC;
                int w0 = j * stride - pad_left;
                for (int kh = 0; kh < K; kh++) {
                    float *restrict dst = row + kh * KC;
                    int ih = i * stride + kh - pad_top;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, sizeof(float) * KC);
                    } else if (w0 >= 0 && w0 + K <= W) {
                        memcpy(dst, xn + ((long)ih * W + w0) * C, sizeof(float) * KC);
                    } else {
                        for (int kw = 0; kw < K; kw++) {
                            int iw = w0 + kw;
                            if (iw < 0 || iw >= W) memset(dst + kw * C, 0, sizeof(float) * C);
                            else memcpy(dst + kw * C, xn + ((long)ih * W + iw) * C, sizeof(float) * C);
                        }
                    }
                }
            }
        }
    }
}

/* The reverse of im2col: dx of samples [n0, n1) (zeroed here) gets every patch value's gradient added to the
 * input value it was copied from. */
static void col2im(float *restrict dx, const float *restrict dcols, int n0, int n1, int H, int W, int C, int K,
                   int stride, int pad_top, int pad_left, int Ho, int Wo) {
    const int KC = K * C, KKC = K * KC;
    memset(dx + (long)n0 * H * W * C, 0, sizeof(float) * (long)(n1 - n0) * H * W * C);
    for (int n = n0; n < n1; n++) {
        float *restrict dxn = dx + (long)n * H * W * C;
        for (int i = 0; i < Ho; i++) {
            for (int j = 0; j < Wo; j++) {
                const float *restrict row = dcols + ((long)((n - n0) * Ho + i) * Wo + j) * KKC;
                int w0 = j * stride - pad_left;
                for (int kh = 0; kh < K; kh++) {
                    int ih = i * stride + kh - pad_top;
                    if (ih < 0 || ih >= H) continue;
                    for (int kw = 0; kw < K; kw++) {
                        int iw = w0 + kw;
                        if (iw < 0 || iw >= W) continue;
                        float *restrict dst = dxn + ((long)ih * W + iw) * C;
                        const float *restrict src = row + kh * KC + kw * C;
                        for (int c = 0; c < C; c++) dst[c] += src[c];
                    }
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* the direct path, for F = 8 V filters with V = 1 .. DIRECT_MAX_VECTORS */

#define DIRECT_MAX_VECTORS 4

static int direct_path(int F) { return F % 8 == 0 && F / 8 <= DIRECT_MAX_VECTORS; }

static inline __attribute__((always_inline)) v8f splat8(float v) { return v - (v8f){0}; }

/* Padded image extent the windows read: Hp x Wp pixels. */
static int padded_rows(int Ho, int K, int stride) { return (Ho - 1) * stride + K; }

/* One sample's image as the windows read it: x itself when every window lies inside it (no padding), else
 * a zero-padded copy in buf (padded_rows(Ho) x padded_rows(Wo) pixels). *row_pixels: pixels per row. */
static const float *padded_sample(const float *xn, float *buf, int H, int W, int C, int K, int stride,
                                  int pad_top, int pad_left, int Ho, int Wo, int *row_pixels) {
    int Hp = padded_rows(Ho, K, stride), Wp = padded_rows(Wo, K, stride);
    if (pad_top == 0 && pad_left == 0 && Hp <= H && Wp <= W) {
        *row_pixels = W;
        return xn;
    }
    memset(buf, 0, sizeof(float) * (long)Hp * Wp * C);
    int last = pad_left + W < Wp ? pad_left + W : Wp;  /* padded columns [pad_left, last) hold the image */
    for (int r = 0; r < Hp; r++) {
        int ih = r - pad_top;
        if (ih >= 0 && ih < H)
            memcpy(buf + ((long)r * Wp + pad_left) * C, xn + (long)ih * W * C, sizeof(float) * (last - pad_left) * C);
    }
    *row_pixels = Wp;
    return buf;
}

/* Forward for R neighbouring output positions (i, j .. j+R-1) of one sample: y = b + the K x K window
 * sums, R x V vectors of sums held in registers over the whole window. */
#define FORWARD_TILE(V, R)                                                                                   \
static void forward_tile_##V##_##R(float *restrict yrow, const float *restrict xs, int row_pixels,          \
                                   const float *restrict w, const float *restrict b, int i, int j, int K,   \
                                   int C, int stride) {                                                     \
    const int F = 8 * V, KC = K * C;                                                                         \
    v8f acc[R][V];                                                                                           \
    for (int v = 0; v < V; v++) {                                                                            \
        v8f bv = LOAD8(b + 8 * v);                                                                           \
        for (int r = 0; r < R; r++) acc[r][v] = bv;                                                          \
    }                                                                                                        \
    for (int kh = 0; kh < K; kh++) {                                                                         \
        const float *restrict xr = xs + ((long)(i * stride + kh) * row_pixels + (long)j * stride) * C;       \
        const float *restrict wk = w + (long)kh * KC * F;                                                    \
        for (int q = 0; q < KC; q++) {                                                                       \
            v8f wv[V];                                                                                       \
            for (int v = 0; v < V; v++) wv[v] = LOAD8(wk + (long)q * F + 8 * v);                             \
            for (int r = 0; r < R; r++) {                                                                    \
                v8f xv = splat8(xr[(long)r * stride * C + q]);                                               \
                for (int v = 0; v < V; v++) acc[r][v] += xv * wv[v];                                         \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    for (int r = 0; r < R; r++)                                                                              \
        for (int v = 0; v < V; v++) STORE8(yrow + (long)r * F + 8 * v, acc[r][v]);                           \
}
#define FORWARD_SAMPLE(V, R)                                                                                 \
static void forward_sample_##V(float *restrict yn, const float *restrict xs, int row_pixels,                \
                               const float *restrict w, const float *restrict b, int Ho, int Wo, int K,     \
                               int C, int stride) {                                                         \
    for (int i = 0; i < Ho; i++) {                                                                           \
        int j = 0;                                                                                           \
        for (; j + R <= Wo; j += R)                                                                          \
            forward_tile_##V##_##R(yn + ((long)i * Wo + j) * 8 * V, xs, row_pixels, w, b, i, j, K, C, stride); \
        for (; j < Wo; j++)                                                                                  \
            forward_tile_##V##_1(yn + ((long)i * Wo + j) * 8 * V, xs, row_pixels, w, b, i, j, K, C, stride); \
    }                                                                                                        \
}

/* dw[q0 .. q0+Q, :] += the sum over one sample's output positions of its window's values q0 .. q0+Q (q in
 * the window's (kh, kw, c) order) times dz at that position: Q x V vectors of sums in registers. A window
 * value's place in the image is offset[q] floats from the window's corner, which spans kernel rows. */
#define DW_TILE(V, Q)                                                                                        \
static void dw_tile_##V##_##Q(float *restrict dwq, const float *restrict xs, int row_pixels,                \
                              const float *restrict dz, int q0, int Ho, int Wo, int K, int C, int stride) { \
    const int F = 8 * V, KC = K * C;                                                                         \
    long offset[Q];                                                                                          \
    for (int q = 0; q < Q; q++) offset[q] = (long)((q0 + q) / KC) * row_pixels * C + (q0 + q) % KC;          \
    v8f acc[Q][V];                                                                                           \
    for (int q = 0; q < Q; q++)                                                                              \
        for (int v = 0; v < V; v++) acc[q][v] = (v8f){0};                                                    \
    for (int i = 0; i < Ho; i++) {                                                                           \
        const float *restrict xr = xs + (long)i * stride * row_pixels * C;                                   \
        const float *restrict dzr = dz + (long)i * Wo * F;                                                   \
        for (int j = 0; j < Wo; j++) {                                                                       \
            const float *restrict corner = xr + (long)j * stride * C;                                        \
            v8f dv[V];                                                                                       \
            for (int v = 0; v < V; v++) dv[v] = LOAD8(dzr + (long)j * F + 8 * v);                            \
            for (int q = 0; q < Q; q++) {                                                                    \
                v8f xv = splat8(corner[offset[q]]);                                                          \
                for (int v = 0; v < V; v++) acc[q][v] += xv * dv[v];                                         \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    for (int q = 0; q < Q; q++)                                                                              \
        for (int v = 0; v < V; v++) STORE8(dwq + (long)q * F + 8 * v, LOAD8(dwq + (long)q * F + 8 * v) + acc[q][v]); \
}
/* The tiles' leftover window values, one at a time: a single value's sum would be one chain of dependent
 * multiply-adds, so four positions in turn feed four sums (added in a fixed order at the end). */
#define DW_VALUE(V)                                                                                          \
static void dw_value_##V(float *restrict dwq, const float *restrict xs, int row_pixels,                     \
                         const float *restrict dz, int q, int Ho, int Wo, int K, int C, int stride) {       \
    const int F = 8 * V, KC = K * C;                                                                         \
    const long offset = (long)(q / KC) * row_pixels * C + q % KC, step = (long)stride * C;                   \
    v8f acc[4][V];                                                                                           \
    for (int u = 0; u < 4; u++)                                                                              \
        for (int v = 0; v < V; v++) acc[u][v] = (v8f){0};                                                    \
    for (int i = 0; i < Ho; i++) {                                                                           \
        const float *restrict corner = xs + (long)i * stride * row_pixels * C + offset;                      \
        const float *restrict dzr = dz + (long)i * Wo * F;                                                   \
        int j = 0;                                                                                           \
        for (; j + 4 <= Wo; j += 4)                                                                          \
            for (int u = 0; u < 4; u++) {                                                                    \
                v8f xv = splat8(corner[(j + u) * step]);                                                     \
                for (int v = 0; v < V; v++) acc[u][v] += xv * LOAD8(dzr + (long)(j + u) * F + 8 * v);       \
            }                                                                                                \
        for (; j < Wo; j++) {                                                                                \
            v8f xv = splat8(corner[j * step]);                                                               \
            for (int v = 0; v < V; v++) acc[0][v] += xv * LOAD8(dzr + (long)j * F + 8 * v);                  \
        }                                                                                                    \
    }                                                                                                        \
    for (int v = 0; v < V; v++)                                                                              \
        STORE8(dwq + 8 * v, LOAD8(dwq + 8 * v) + ((acc[0][v] + acc[1][v]) + (acc[2][v] + acc[3][v])));      \
}
#define DW_SAMPLE(V, Q)                                                                                      \
static void dw_sample_##V(float *restrict dw, const float *restrict xs, int row_pixels,                      \
                          const float *restrict dz, int Ho, int Wo, int K, int C, int stride) {              \
    const int KKC = K * K * C;                                                                               \
    int q = 0;                                                                                               \
    for (; q + Q <= KKC; q += Q)                                                                             \
        dw_tile_##V##_##Q(dw + (long)q * 8 * V, xs, row_pixels, dz, q, Ho, Wo, K, C, stride);                \
    for (; q < KKC; q++)                                                                                     \
        dw_value_##V(dw + (long)q * 8 * V, xs, row_pixels, dz, q, Ho, Wo, K, C, stride);                     \
}

/* R positions x V vectors, and Q values x V vectors: 8 to 12 sums, within AVX2's 16 registers */
FORWARD_TILE(1, 1) FORWARD_TILE(1, 8) FORWARD_SAMPLE(1, 8)
FORWARD_TILE(2, 1) FORWARD_TILE(2, 4) FORWARD_SAMPLE(2, 4)
FORWARD_TILE(3, 1) FORWARD_TILE(3, 4) FORWARD_SAMPLE(3, 4)
FORWARD_TILE(4, 1) FORWARD_TILE(4, 3) FORWARD_SAMPLE(4, 3)
DW_TILE(1, 12) DW_VALUE(1) DW_SAMPLE(1, 12)
DW_TILE(2, 6) DW_VALUE(2) DW_SAMPLE(2, 6)
DW_TILE(3, 4) DW_VALUE(3) DW_SAMPLE(3, 4)
DW_TILE(4, 3) DW_VALUE(4) DW_SAMPLE(4, 3)

static void forward_direct(float *restrict yn, const float *restrict xs, int row_pixels, const float *restrict w,
                           const float *restrict b, int Ho, int Wo, int K, int C, int F, int stride) {
    switch (F / 8) {
    case 1: forward_sample_1(yn, xs, row_pixels, w, b, Ho, Wo, K, C, stride); break;
    case 2: forward_sample_2(yn, xs, row_pixels, w, b, Ho, Wo, K, C, stride); break;
    case 3: forward_sample_3(yn, xs, row_pixels, w, b, Ho, Wo, K, C, stride); break;
    default: forward_sample_4(yn, xs, row_pixels, w, b, Ho, Wo, K, C, stride); break;
    }
}

static void dw_direct(float *restrict dw, const float *restrict xs, int row_pixels, const float *restrict dz,
                      int Ho, int Wo, int K, int C, int F, int stride) {
    switch (F / 8) {
    case 1: dw_sample_1(dw, xs, row_pixels, dz, Ho, Wo, K, C, stride); break;
    case 2: dw_sample_2(dw, xs, row_pixels, dz, Ho, Wo, K, C, stride); break;
    case 3: dw_sample_3(dw, xs, row_pixels, dz, Ho, Wo, K, C, stride); break;
    default: dw_sample_4(dw, xs, row_pixels, dz, Ho, Wo, K, C, stride); break;
    }
}

/* sums[f] = the sum of the rows x F matrix m's column f; F a multiple of 8 up to 32 a vector at a time */
static void column_sums(float *restrict sums, const float *restrict m, int rows, int F) {
    if (direct_path(F)) {
        v8f acc[DIRECT_MAX_VECTORS] = {{0}};
        for (int r = 0; r < rows; r++)
            for (int v = 0; v < F / 8; v++) acc[v] += LOAD8(m + (long)r * F + 8 * v);
        for (int v = 0; v < F / 8; v++) STORE8(sums + 8 * v, acc[v]);
        return;
    }
    for (int f = 0; f < F; f++) sums[f] = 0.0f;
    for (int r = 0; r < rows; r++)
        for (int f = 0; f < F; f++) sums[f] += m[(long)r * F + f];
}

/* ---------------------------------------------------------------------------------------------------- */
/* the kernels */

int pynn_conv2d_forward(float *restrict y, const float *restrict x, const float *restrict w,
                        const float *restrict b, int N, int H, int W, int C, int K, int F, int stride,
                        int pad_top, int pad_left, int Ho, int Wo, int act, float alpha) {
    const int KKC = K * K * C, per = chunk_samples(Ho, Wo), chunks = (N + per - 1) / per, direct = direct_path(F);
    /* per thread: the patch matrix (im2col), or the padded image (direct) */
    const long scratch_per_thread = direct ? (long)padded_rows(Ho, K, stride) * padded_rows(Wo, K, stride) * C
                                           : (long)per * Ho * Wo * KKC;
    int team = team_for(chunks, 2.0 * N * Ho * Wo * (double)KKC * F);
    float *scratch = malloc(sizeof(float) * scratch_per_thread * team);
    if (!scratch) return -1;
    #pragma omp parallel for schedule(dynamic) num_threads(team) if (team > 1)
    for (int chunk = 0; chunk < chunks; chunk++) {
        float *mine = scratch + scratch_per_thread * thread_id();
        int n0 = chunk * per, n1 = n0 + per < N ? n0 + per : N;
        int rows = (n1 - n0) * Ho * Wo;
        float *yc = y + (long)n0 * Ho * Wo * F;
        if (direct) {
            for (int n = n0; n < n1; n++) {
                int row_pixels;
                const float *xs = padded_sample(x + (long)n * H * W * C, mine, H, W, C, K, stride, pad_top,
                                                pad_left, Ho, Wo, &row_pixels);
                forward_direct(y + (long)n * Ho * Wo * F, xs, row_pixels, w, b, Ho, Wo, K, C, F, stride);
            }
        } else {
            im2col(mine, x, n0, n1, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
            for (int r = 0; r < rows; r++) memcpy(yc + (long)r * F, b, sizeof(float) * F);
            pynn_sgemm(0, 0, rows, F, KKC, 1.0f, mine, KKC, w, F, 1.0f, yc, F);
        }
        pynn_activate(yc, yc, (int64_t)rows * F, act, alpha);
    }
    free(scratch);
    return 0;
}

/* dx of one sample by the direct path (C = 8 V, V up to DIRECT_MAX_VECTORS), into dxs (row_pixels wide,
 * zeroed by the caller): for each kernel position (kh, kw) in turn, R neighbouring output positions' dz (F)
 * times that position's weights wkk (F, C) are added to the R input pixels they came from, R x V vectors in
 * registers. Within one kernel position no two outputs share an input pixel, so no sum waits on another.
 * (Scattering each output's whole window at once measured a quarter slower, and gathering as the "full"
 * correlation of the padded dz three times slower: more than half of its multiply-adds fall on the padding.) */
static int direct_dx_path(int C) { return direct_path(C); }

#define DX_TILE(V, R)                                                                                        \
static void dx_tile_##V##_##R(float *restrict dxr, const float *restrict dzr, const float *restrict wkk,     \
                              int F, int stride) {                                                           \
    const int C = 8 * V;                                                                                     \
    v8f acc[R][V];                                                                                           \
    for (int r = 0; r < R; r++)                                                                              \
        for (int v = 0; v < V; v++) acc[r][v] = LOAD8(dxr + (long)r * stride * C + 8 * v);                   \
    for (int f = 0; f < F; f++) {                                                                            \
        v8f wv[V];                                                                                           \
        for (int v = 0; v < V; v++) wv[v] = LOAD8(wkk + (long)f * C + 8 * v);                               \
        for (int r = 0; r < R; r++) {                                                                        \
            v8f d = splat8(dzr[(long)r * F + f]);                                                            \
            for (int v = 0; v < V; v++) acc[r][v] += d * wv[v];                                              \
        }                                                                                                    \
    }                                                                                                        \
    for (int r = 0; r < R; r++)                                                                              \
        for (int v = 0; v < V; v++) STORE8(dxr + (long)r * stride * C + 8 * v, acc[r][v]);                   \
}
#define DX_SAMPLE(V, R)                                                                                      \
static void dx_sample_##V(float *restrict dxs, int row_pixels, const float *restrict dz,                    \
                          const float *restrict wt, int Ho, int Wo, int K, int F, int stride) {              \
    const int C = 8 * V;                                                                                     \
    for (int i = 0; i < Ho; i++)                                                                             \
        for (int kh = 0; kh < K; kh++)                                                                       \
            for (int kw = 0; kw < K; kw++) {                                                                 \
                float *restrict dxr = dxs + ((long)(i * stride + kh) * row_pixels + kw) * C;                 \
                const float *restrict dzr = dz + (long)i * Wo * F;                                           \
                const float *restrict wkk = wt + ((long)kh * K + kw) * F * C;                                \
                int j = 0;                                                                                   \
                for (; j + R <= Wo; j += R)                                                                  \
                    dx_tile_##V##_##R(dxr + (long)j * stride * C, dzr + (long)j * F, wkk, F, stride);        \
                for (; j < Wo; j++)                                                                          \
                    dx_tile_##V##_1(dxr + (long)j * stride * C, dzr + (long)j * F, wkk, F, stride);          \
            }                                                                                                \
}
DX_TILE(1, 1) DX_TILE(1, 8) DX_SAMPLE(1, 8)
DX_TILE(2, 1) DX_TILE(2, 4) DX_SAMPLE(2, 4)
DX_TILE(3, 1) DX_TILE(3, 4) DX_SAMPLE(3, 4)
DX_TILE(4, 1) DX_TILE(4, 3) DX_SAMPLE(4, 3)

static void dx_direct(float *restrict dxs, int row_pixels, const float *restrict dz, const float *restrict wt,
                      int Ho, int Wo, int K, int C, int F, int stride) {
    switch (C / 8) {
    case 1: dx_sample_1(dxs, row_pixels, dz, wt, Ho, Wo, K, F, stride); break;
    case 2: dx_sample_2(dxs, row_pixels, dz, wt, Ho, Wo, K, F, stride); break;
    case 3: dx_sample_3(dxs, row_pixels, dz, wt, Ho, Wo, K, F, stride); break;
    default: dx_sample_4(dxs, row_pixels, dz, wt, Ho, Wo, K, F, stride); break;
    }
}

int pynn_conv2d_backward(float *restrict dx, float *restrict dw, float *restrict db, float *restrict dy,
                         const float *restrict y, const float *restrict x, const float *restrict w,
                         int N, int H, int W, int C, int K, int F, int stride, int pad_top, int pad_left,
                         int Ho, int Wo, int act, float alpha) {
    const int KKC = K * K * C, per = chunk_samples(Ho, Wo), chunks = (N + per - 1) / per;
    const int direct = direct_path(F), direct_dx = dx && direct_dx_path(C);
    const long rows_max = (long)per * Ho * Wo, wsize = (long)KKC * F;
    const long padded = (long)padded_rows(Ho, K, stride) * padded_rows(Wo, K, stride) * C;
    const int Hp = padded_rows(Ho, K, stride), Wp = padded_rows(Wo, K, stride);
    const int dx_in_place = pad_top == 0 && pad_left == 0 && Hp <= H && Wp <= W;  /* no padding to crop */
    /* per thread: the patches (im2col) or the padded image (direct), and the patches' gradient (im2col) or
     * a padded dx (direct dx); then the kernel with its channel axes swapped (direct dx), and each chunk's dw
     * and db */
    const long scratch_per_thread = (direct ? padded : rows_max * KKC)
                                    + (!dx ? 0 : direct_dx ? padded : rows_max * KKC);
    int team = team_for(chunks, (dx ? 4.0 : 2.0) * N * Ho * Wo * (double)KKC * F);
    float *scratch = malloc(sizeof(float) * (scratch_per_thread * team + wsize + (wsize + F) * chunks));
    if (!scratch) return -1;
    float *wt = scratch + scratch_per_thread * team, *partial = wt + wsize;
    if (direct_dx)  /* wt (K, K, F, C): each kernel position's weights with the channel axes swapped */
        for (int kk = 0; kk < K * K; kk++)
            for (int c = 0; c < C; c++)
                for (int f = 0; f < F; f++) wt[((long)kk * F + f) * C + c] = w[((long)kk * C + c) * F + f];
    #pragma omp parallel for schedule(dynamic) num_threads(team) if (team > 1)
    for (int chunk = 0; chunk < chunks; chunk++) {
        float *mine = scratch + scratch_per_thread * thread_id();
        float *dmine = mine + (direct ? padded : rows_max * KKC);
        float *dwc = partial + (wsize + F) * chunk, *dbc = dwc + wsize;
        int n0 = chunk * per, n1 = n0 + per < N ? n0 + per : N;
        int rows = (n1 - n0) * Ho * Wo;
        float *dz = dy + (long)n0 * Ho * Wo * F;
        pynn_activate_backward(dz, dz, y + (long)n0 * Ho * Wo * F, (int64_t)rows * F, act, alpha);
        if (direct) {
            memset(dwc, 0, sizeof(float) * wsize);
            for (int n = n0; n < n1; n++) {
                int row_pixels;
                const float *xs = padded_sample(x + (long)n * H * W * C, mine, H, W, C, K, stride, pad_top,
                                                pad_left, Ho, Wo, &row_pixels);
                dw_direct(dwc, xs, row_pixels, dy + (long)n * Ho * Wo * F, Ho, Wo, K, C, F, stride);
            }
        } else {
            im2col(mine, x, n0, n1, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
            pynn_sgemm(1, 0, KKC, F, rows, 1.0f, mine, KKC, dz, F, 0.0f, dwc, F);
        }
        column_sums(dbc, dz, rows, F);
        if (direct_dx) {
            for (int n = n0; n < n1; n++) {
                float *dxn = dx + (long)n * H * W * C;
                float *target = dx_in_place ? dxn : dmine;
                memset(target, 0, sizeof(float) * (dx_in_place ? (long)H * W * C : padded));
                dx_direct(target, dx_in_place ? W : Wp, dy + (long)n * Ho * Wo * F, wt, Ho, Wo, K, C, F, stride);
                if (!dx_in_place) {  /* crop the padding away; image rows and columns past the windows get 0 */
                    memset(dxn, 0, sizeof(float) * (long)H * W * C);
                    int cols = W < Wp - pad_left ? W : Wp - pad_left;
                    for (int r = 0; r < H && r + pad_top < Hp; r++)
                        memcpy(dxn + (long)r * W * C, dmine + ((long)(r + pad_top) * Wp + pad_left) * C,
                               sizeof(float) * (long)cols * C);
                }
            }
        } else if (dx) {
            pynn_sgemm(0, 1, rows, KKC, F, 1.0f, dz, F, w, F, 0.0f, dmine, KKC);
            col2im(dx, dmine, n0, n1, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
        }
    }
    /* the chunks' sums added in chunk order: the same rounding on any number of threads */
    for (int chunk = 0; chunk < chunks; chunk++) {
        const float *dwc = partial + (wsize + F) * chunk, *dbc = dwc + wsize;
        for (long k = 0; k < wsize; k++) dw[k] += dwc[k];
        for (int f = 0; f < F; f++) db[f] += dbc[f];
    }
    free(scratch);
    return 0;
}

/* One pooling window's maximum and its place, 8 channels at once (C a multiple of 8). */
static inline void pool_window8(float *restrict best_out, int32_t *restrict where_out, const float *restrict corner,
                                int W, int C, int P) {
    typedef int32_t v8i32 __attribute__((vector_size(32)));
    v8f best = LOAD8(corner);
    v8i32 where = {0};
    for (int a = 0; a < P; a++) {
        for (int q = 0; q < P; q++) {
            v8f v = LOAD8(corner + ((long)a * W + q) * C);
            /* strictly greater replaces (the first maximum wins ties); a NaN replaces a number */
            v8i32 take = (v > best) | ((v != v) & (best == best));
            best = (v8f)((take & (v8i32)v) | (~take & (v8i32)best));
            where = (take & (a * P + q)) | (~take & where);
        }
    }
    STORE8(best_out, best);
    memcpy(where_out, &where, sizeof where);
}

void pynn_maxpool_forward(float *restrict y, int32_t *restrict argmax, const float *restrict x, int N, int H,
                          int W, int C, int P) {
    const int Ho = H / P, Wo = W / P;
    int team = team_for(N, 1.0 * N * Ho * Wo * C * P * P * 8);  /* memory-bound: count it heavier */
    #pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < Ho; i++) {
            for (int j = 0; j < Wo; j++) {
                float *restrict best = y + (((long)n * Ho + i) * Wo + j) * C;
                int32_t *restrict where = argmax + (((long)n * Ho + i) * Wo + j) * C;
                const float *first = x + (((long)n * H + i * P) * W + j * P) * C;
                if (C % 8 == 0) {
                    for (int c = 0; c < C; c += 8) pool_window8(best + c, where + c, first + c, W, C, P);
                    continue;
                }
                /* the window's first value, then a strictly greater one replaces it: the first maximum in
                 * row-major order wins ties, as PyTorch's does */
                for (int c = 0; c < C; c++) best[c] = first[c], where[c] = 0;
                for (int a = 0; a < P; a++) {
                    for (int q = 0; q < P; q++) {
                        const float *v = first + ((long)a * W + q) * C;
                        for (int c = 0; c < C; c++) {
                            /* a NaN in the window wins, so it reaches the loss instead of hiding */
                            if (v[c] > best[c] || (v[c] != v[c] && best[c] == best[c])) {
                                best[c] = v[c];
                                where[c] = a * P + q;
                            }
                        }
                    }
                }
            }
        }
    }
}

void pynn_maxpool_backward(float *restrict dx, const float *restrict dy, const int32_t *restrict argmax,
                           int N, int H, int W, int C, int P) {
    const int Ho = H / P, Wo = W / P;
    int team = team_for(N, 1.0 * N * H * W * C * 8);
    #pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int n = 0; n < N; n++) {
        float *restrict dxn = dx + (long)n * H * W * C;
        /* the rows and columns no window covers get zero; every covered value is written once below */
        for (int r = Ho * P; r < H; r++) memset(dxn + (long)r * W * C, 0, sizeof(float) * W * C);
        for (int r = 0; r < Ho * P; r++)
            memset(dxn + ((long)r * W + Wo * P) * C, 0, sizeof(float) * (W - Wo * P) * C);
        for (int i = 0; i < Ho; i++) {
            for (int j = 0; j < Wo; j++) {
                long o = (((long)n * Ho + i) * Wo + j) * C;
                for (int a = 0; a < P; a++) {
                    for (int q = 0; q < P; q++) {
                        float *restrict d = dxn + ((long)(i * P + a) * W + j * P + q) * C;
                        int32_t here = a * P + q;
                        for (int c = 0; c < C; c++) d[c] = argmax[o + c] == here ? dy[o + c] : 0.0f;
                    }
                }
            }
        }
    }
}
