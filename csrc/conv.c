/* conv.c - 2-D convolution and max pooling over NHWC activations, on top of pynn_sgemm.
 *
 * Why it is built this way:
 *   - im2col: a chunk of samples' K x K x C input patches are copied into the rows of a matrix (one row per
 *     output position, columns in (kh, kw, c) order) so the convolution is one multiply by the kernel w
 *     (K*K*C, F), whose product is already the NHWC output. With channels last, the K*C values of one kernel
 *     row are contiguous in the input, so a patch row is K copies of K*C floats.
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

/* About this many patch rows per chunk: a chunk's patch matrix (rows x K*K*C) stays in L2 for common sizes,
 * and a batch of 64 small images still makes several chunks to share. */
#define CHUNK_ROWS 512
/* Below this many flops a call runs on one thread: waking a team costs more. */
#define PARALLEL_FLOPS 2.0e6

static int chunk_samples(int Ho, int Wo) {
    int per = CHUNK_ROWS / (Ho * Wo);
    return per > 1 ? per : 1;
}

static int team_for(int chunks, double flops) {
#ifdef _OPENMP
    if (flops < PARALLEL_FLOPS || omp_in_parallel()) return 1;
    int team = omp_get_max_threads();
    return team < chunks ? team : chunks;
#else
    (void)chunks, (void)flops;
    return 1;
#endif
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

void pynn_conv2d_forward(float *restrict y, const float *restrict x, const float *restrict w,
                         const float *restrict b, int N, int H, int W, int C, int K, int F, int stride,
                         int pad_top, int pad_left, int Ho, int Wo, int act, float alpha) {
    const int KKC = K * K * C, per = chunk_samples(Ho, Wo), chunks = (N + per - 1) / per;
    const long rows_max = (long)per * Ho * Wo;
    int team = team_for(chunks, 2.0 * N * Ho * Wo * (double)KKC * F);
    float *scratch = malloc(sizeof(float) * rows_max * KKC * team);
    #pragma omp parallel for schedule(dynamic) num_threads(team) if (team > 1)
    for (int chunk = 0; chunk < chunks; chunk++) {
        float *cols = scratch + rows_max * KKC * thread_id();
        int n0 = chunk * per, n1 = n0 + per < N ? n0 + per : N;
        int rows = (n1 - n0) * Ho * Wo;
        float *yc = y + (long)n0 * Ho * Wo * F;
        im2col(cols, x, n0, n1, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
        for (int r = 0; r < rows; r++) memcpy(yc + (long)r * F, b, sizeof(float) * F);
        pynn_sgemm(0, 0, rows, F, KKC, 1.0f, cols, KKC, w, F, 1.0f, yc, F);
        pynn_activate(yc, yc, (int64_t)rows * F, act, alpha);
    }
    free(scratch);
}

void pynn_conv2d_backward(float *restrict dx, float *restrict dw, float *restrict db, float *restrict dy,
                          const float *restrict y, const float *restrict x, const float *restrict w,
                          int N, int H, int W, int C, int K, int F, int stride, int pad_top, int pad_left,
                          int Ho, int Wo, int act, float alpha) {
    const int KKC = K * K * C, per = chunk_samples(Ho, Wo), chunks = (N + per - 1) / per;
    const long rows_max = (long)per * Ho * Wo, wsize = (long)KKC * F;
    int team = team_for(chunks, (dx ? 4.0 : 2.0) * N * Ho * Wo * (double)KKC * F);
    /* per thread: the patches and their gradient; per chunk: its dw and db */
    float *scratch = malloc(sizeof(float) * (rows_max * KKC * 2 * team + (wsize + F) * chunks));
    float *partial = scratch + rows_max * KKC * 2 * team;
    #pragma omp parallel for schedule(dynamic) num_threads(team) if (team > 1)
    for (int chunk = 0; chunk < chunks; chunk++) {
        float *cols = scratch + rows_max * KKC * 2 * thread_id(), *dcols = cols + rows_max * KKC;
        float *dwc = partial + (wsize + F) * chunk, *dbc = dwc + wsize;
        int n0 = chunk * per, n1 = n0 + per < N ? n0 + per : N;
        int rows = (n1 - n0) * Ho * Wo;
        float *dz = dy + (long)n0 * Ho * Wo * F;
        pynn_activate_backward(dz, dz, y + (long)n0 * Ho * Wo * F, (int64_t)rows * F, act, alpha);
        im2col(cols, x, n0, n1, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
        pynn_sgemm(1, 0, KKC, F, rows, 1.0f, cols, KKC, dz, F, 0.0f, dwc, F);
        for (int f = 0; f < F; f++) dbc[f] = 0.0f;
        for (int r = 0; r < rows; r++)
            for (int f = 0; f < F; f++) dbc[f] += dz[(long)r * F + f];
        if (dx) {
            pynn_sgemm(0, 1, rows, KKC, F, 1.0f, dz, F, w, F, 0.0f, dcols, KKC);
            col2im(dx, dcols, n0, n1, H, W, C, K, stride, pad_top, pad_left, Ho, Wo);
        }
    }
    /* the chunks' sums added in chunk order: the same rounding on any number of threads */
    for (int chunk = 0; chunk < chunks; chunk++) {
        const float *dwc = partial + (wsize + F) * chunk, *dbc = dwc + wsize;
        for (long k = 0; k < wsize; k++) dw[k] += dwc[k];
        for (int f = 0; f < F; f++) db[f] += dbc[f];
    }
    free(scratch);
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
                /* the window's first value, then a strictly greater one replaces it: the first maximum in
                 * row-major order wins ties, as PyTorch's does */
                const float *first = x + (((long)n * H + i * P) * W + j * P) * C;
                for (int c = 0; c < C; c++) best[c] = first[c], where[c] = 0;
                for (int a = 0; a < P; a++) {
                    for (int q = 0; q < P; q++) {
                        const float *v = x + (((long)n * H + i * P + a) * W + j * P + q) * C;
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
        memset(dx + (long)n * H * W * C, 0, sizeof(float) * (long)H * W * C);
        for (int i = 0; i < Ho; i++) {
            for (int j = 0; j < Wo; j++) {
                long o = (((long)n * Ho + i) * Wo + j) * C;
                for (int c = 0; c < C; c++) {
                    int a = argmax[o + c] / P, q = argmax[o + c] % P;
                    dx[(((long)n * H + i * P + a) * W + j * P + q) * C + c] = dy[o + c];
                }
            }
        }
    }
}
