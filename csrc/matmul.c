/* matmul.c - single-precision matrix multiply, the one routine every layer's heavy lifting goes through.
 *
 * Why blocked: a (kc x nc) panel of op(B) is packed into contiguous memory once and then reused for every row
 * of A, so it stays in L2 while the inner loop streams over it; rows of C are updated four at a time so each
 * loaded value of B feeds four fused multiply-adds. The inner loop runs over contiguous j, which the compiler
 * vectorises without reassociating any sum, so results do not depend on the vector width. Threads split the
 * columns of C: each element is computed by exactly one thread in a fixed order, so the result does not
 * depend on the thread count either.
 */
#include <string.h>
#include "pynn.h"

#define KC 256          /* depth of a packed panel */
#define NC 128          /* width of a packed panel: KC*NC floats = 128 KiB, an L2-sized block */
#define MR 4            /* rows of C updated together */
#define PARALLEL_FLOPS (1L << 22)   /* below this much work, threads cost more than they save */

static inline float a_at(int trans_a, const float *A, int lda, int i, int k) {
    return trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
}

/* Bp[k * nc + j] = op(B)[k0 + k][j0 + j] */
static void pack_b(float *restrict Bp, int trans_b, const float *restrict B, int ldb,
                   int k0, int kc, int j0, int nc) {
    if (!trans_b) {
        for (int k = 0; k < kc; k++)
            memcpy(Bp + (long)k * nc, B + (long)(k0 + k) * ldb + j0, sizeof(float) * nc);
    } else {
        for (int j = 0; j < nc; j++) {
            const float *row = B + (long)(j0 + j) * ldb + k0;
            for (int k = 0; k < kc; k++) Bp[(long)k * nc + j] = row[k];
        }
    }
}

static void scale_c(int M, int N, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (long)i * ldc;
        if (beta == 0.0f) memset(c, 0, sizeof(float) * N);
        else if (beta != 1.0f) for (int j = 0; j < N; j++) c[j] *= beta;
    }
}

/* C[:, j0:j0+nc] += alpha * op(A) op(B)[:, j0:j0+nc] */
static void column_block(int trans_a, int trans_b, int M, int K, int j0, int nc, float alpha,
                         const float *restrict A, int lda, const float *restrict B, int ldb,
                         float *restrict C, int ldc) {
    float Bp[KC * NC];
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        pack_b(Bp, trans_b, B, ldb, k0, kc, j0, nc);
        int i = 0;
        for (; i + MR <= M; i += MR) {
            float *restrict c0 = C + (long)(i + 0) * ldc + j0;
            float *restrict c1 = C + (long)(i + 1) * ldc + j0;
            float *restrict c2 = C + (long)(i + 2) * ldc + j0;
            float *restrict c3 = C + (long)(i + 3) * ldc + j0;
            for (int k = 0; k < kc; k++) {
                const float *restrict b = Bp + (long)k * nc;
                float a0 = alpha * a_at(trans_a, A, lda, i + 0, k0 + k);
                float a1 = alpha * a_at(trans_a, A, lda, i + 1, k0 + k);
                float a2 = alpha * a_at(trans_a, A, lda, i + 2, k0 + k);
                float a3 = alpha * a_at(trans_a, A, lda, i + 3, k0 + k);
                for (int j = 0; j < nc; j++) {
                    float bj = b[j];
                    c0[j] += a0 * bj;
                    c1[j] += a1 * bj;
                    c2[j] += a2 * bj;
                    c3[j] += a3 * bj;
                }
            }
        }
        for (; i < M; i++) {
            float *restrict c = C + (long)i * ldc + j0;
            for (int k = 0; k < kc; k++) {
                const float *restrict b = Bp + (long)k * nc;
                float a = alpha * a_at(trans_a, A, lda, i, k0 + k);
                for (int j = 0; j < nc; j++) c[j] += a * b[j];
            }
        }
    }
}

void pynn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                const float *restrict A, int lda, const float *restrict B, int ldb,
                float beta, float *restrict C, int ldc) {
    if (M <= 0 || N <= 0) return;
    scale_c(M, N, beta, C, ldc);
    if (K <= 0 || alpha == 0.0f) return;
    int nblocks = (N + NC - 1) / NC;
    long flops = 2L * M * N * K;
    #pragma omp parallel for schedule(static) if (flops >= PARALLEL_FLOPS && nblocks > 1)
    for (int jb = 0; jb < nblocks; jb++) {
        int j0 = jb * NC;
        int nc = N - j0 < NC ? N - j0 : NC;
        column_block(trans_a, trans_b, M, K, j0, nc, alpha, A, lda, B, ldb, C, ldc);
    }
}

void pynn_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha,
                      const float *restrict A, int lda, const float *restrict B, int ldb,
                      float beta, float *restrict C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = trans_b ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                acc += a * b;
            }
            float *c = C + (long)i * ldc + j;
            *c = alpha * acc + (beta == 0.0f ? 0.0f : beta * *c);
        }
    }
}
