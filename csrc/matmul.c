/* matmul.c - single-precision matrix multiply, the one routine every layer's heavy lifting goes through.
 *
 * Why it is built this way (the GotoBLAS/BLIS scheme):
 *   - C is computed in MR x NR tiles held in vector registers for the whole depth of a block, so each value
 *     loaded from memory feeds several fused multiply-adds. AVX2 and the portable build: 6 x 16 tiles, 12
 *     accumulators + 2 loads of B + 1 broadcast of A fill the 16 vector registers (aarch64 has 32, x86-64
 *     without AVX2 spills a little but stays correct). AVX-512: 12 x 32 tiles of 16-float vectors, 24
 *     accumulators + 2 + 1 of the 32 registers (measured on a Xeon with two FMA units, 2048^3, one thread:
 *     12 x 32 and 14 x 32 within 2% of each other, 8 x 48 slower; 12 divides the block of A evenly).
 *   - op(A) and op(B) are copied ("packed") into the exact order the tile loop reads them, zero-padded to
 *     whole tiles: the kernel then streams contiguous, aligned memory whatever the transposes and strides,
 *     and the ragged edges of every tiling cost only padding, never a separate code path.
 *   - the depth is cut into KC-deep blocks so a packed MR x KC sliver of A and KC x NR sliver of B stay in
 *     L1, an MC x KC block of A in L2 and a KC x NC panel of B in L3.
 *   - x86-64 builds stay portable: the whole core is compiled three times (baseline, x86-64-v3 = AVX2+FMA,
 *     x86-64-v4 = AVX-512) and pynn.core loads the widest the CPU runs, or the one PYNN_ISA names.
 *
 * Threads (sgemm_team): a team packs each panel of op(B) and each block of op(A) once, into buffers it shares,
 * every thread a disjoint share, rather than every thread packing all of one operand for itself; then the
 * threads take the block's tiles in small units, each first those of the B slivers it packed (still in its
 * own cache) and then what is left of the others'. A core slowed by another tenant of the machine then does
 * less of the work instead of holding up the team (with a fixed split, the slowest part sets the time).
 *
 * Determinism: every element of C is summed over k in the same order (block by block, k ascending, one
 * fused multiply-add per step) whichever thread computes it, and threads only split C into disjoint
 * tile-aligned parts, so the result does not depend on the thread count nor on which thread took which unit.
 */
#define _GNU_SOURCE  /* clock_gettime and the POSIX file calls under -std=c11 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__linux__)
#include <fcntl.h>
#include <unistd.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#include "pynn.h"
#include "vecmath.h"

#ifdef TUNE_MR
#define MR TUNE_MR
#elif VW == 16
#define MR 12           /* rows of a register tile */
#else
#define MR 6
#endif
#define NR (2 * VW)     /* columns of a register tile: two vectors */
_Static_assert(MR > 4 && MR <= 16, "tile_kernel's narrow tiles assume 4 < MR <= 16");
#ifdef TUNE_KC         /* -DTUNE_KC=... (and MC, NC, MR) try other sizes without editing this file */
#define KC TUNE_KC
#else
#define KC 256          /* depth of a packed block */
#endif
#ifdef TUNE_MC
#define MC TUNE_MC
#else
#define MC (MR * (144 / MR)) /* rows of A packed at once (a multiple of MR): 144 x 256 floats = 144 KiB in L2 */
#endif
#ifdef TUNE_NC
#define NC TUNE_NC
#else
#define NC 512          /* columns of B packed at once (a multiple of NR): 256 x 512 floats = 512 KiB, L2/L3 */
#endif
#if VW == 16
#define DR 4            /* rows and columns of a dot-product tile (sgemm_nt_dot): 20 vector sums, 4 + 5 */
#define DC 5            /* loads per 20 multiply-adds, 25 of the 32 registers (5 divides a 30-unit layer) */
#else
#define DR 3            /* 12 vector sums, 3 + 4 loads per 12 multiply-adds, all 16 AVX registers */
#define DC 4
#endif
/* op(A) op(B)^T takes the dot path with at most DOT_MAX_ROWS rows of C, or at most DOT_MAX_COLS columns and
 * DOT_MAX_ROWS_NARROW rows: past that, packing A pays for itself again (one thread, AVX-512: 10000 x 30 x 784
 * 7.2 ms dot against 5.7 packed, 10000 x 10 x 30 0.97 against 0.25 ms; 256 x 10 x 1024 75 against 180 us) */
#define DOT_MAX_ROWS 16
#define DOT_MAX_COLS 32
#define DOT_MAX_ROWS_NARROW 512
#define NARROW_N (2 * NR) /* at most this many columns of C, threads split the rows (pynn_sgemm) */
/* Below this much work a single thread finishes before a team of sleeping threads has woken up and met at
 * the barriers (a few tens of microseconds each on a shared 2-core VM: 2e6 flops, the old bound, made the
 * 64-unit LSTM's multiplies slower on two threads than on one). */
#define PARALLEL_FLOPS 3.0e7
#define TEAM_TILES 8    /* tiles down a block of A in one unit of a team's shared work */

#if defined(__clang__)
#define SHUFFLE8(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUFFLE8(a, b, ...) __builtin_shuffle(a, b, (v8i){__VA_ARGS__})
#endif

/* ISO C mode (-std=c11) forbids GCC to fuse a*b+c; the tile loop is written for one rounding per step, so
 * allow it here (clang already fuses within an expression). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif

/* Packing buffers, one set per thread so a team never shares them; aligned for whole-vector loads. */
static _Thread_local float packed_a[MC * KC] __attribute__((aligned(64)));
static _Thread_local float packed_b[KC * NC] __attribute__((aligned(64)));

static inline int min_int(int a, int b) { return a < b ? a : b; }

/* Block sizes balanced over the blocks (784 deep -> 4 x 196, not 3 x 256 + 16) so no block is a sliver;
 * rounded up to a multiple of `multiple`. */
static int balanced_step(int n, int max_step, int multiple) {
    int blocks = (n + max_step - 1) / max_step;
    int step = (n + blocks - 1) / blocks;
    return (step + multiple - 1) / multiple * multiple;
}

/* out[k][j] = rows[j][k] for an 8 x 8 block, so a transposed operand is packed with whole-vector loads and
 * stores (unpack, shuffle, swap halves: the usual 24-shuffle transpose, which AVX does in registers). */
static inline __attribute__((always_inline)) void transpose8(v8f r[8]) {
    v8f t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = SHUFFLE8(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = SHUFFLE8(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; h++) {
            u[i + 2 * h] = SHUFFLE8(t[i + h], t[i + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[i + 2 * h + 1] = SHUFFLE8(t[i + h], t[i + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int i = 0; i < 4; i++) {
        r[i] = SHUFFLE8(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[i + 4] = SHUFFLE8(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* Ap holds ceil(mc/MR) slivers, each kc x MR: Ap[s][k][i] = op(A)[i0 + s*MR + i][k0 + k], rows past mc = 0. */
static inline __attribute__((always_inline))
void pack_a(float *restrict Ap, int trans_a, const float *restrict A, long lda, int i0, int mc, int k0, int kc) {
    if (trans_a) {  /* A is (K, M): read each row of A once, front to back, handing MR values to each sliver */
        for (int k = 0; k < kc; k++) {
            const float *restrict src = A + (long)(k0 + k) * lda + i0;
            for (int s = 0; s < mc; s += MR) {
                int rows = min_int(MR, mc - s);
                float *restrict dst = Ap + (long)s * kc + k * MR;
                if (rows == MR) memcpy(dst, src + s, sizeof(float) * MR);
                else for (int i = 0; i < MR; i++) dst[i] = i < rows ? src[s + i] : 0.0f;
            }
        }
        return;
    }
    for (int s = 0; s < mc; s += MR) {  /* A is (M, K): a transpose, 8 rows x 8 deep at a time */
        int rows = min_int(MR, mc - s);
        float *restrict dst = Ap + (long)s * kc;
        const float *restrict src[MR];
        for (int i = 0; i < MR; i++) src[i] = A + (long)(i0 + s + min_int(i, rows - 1)) * lda + k0;
        int k = 0;
        for (; k + 8 <= kc; k += 8) {
#pragma GCC unroll 2
            for (int i8 = 0; i8 < MR; i8 += 8) {  /* the sliver's rows in groups of 8, the last one short */
                const int group = MR - i8 < 8 ? MR - i8 : 8;
                v8f r[8];
                for (int i = 0; i < 8; i++) r[i] = i < group && i8 + i < rows ? LOAD8(src[i8 + i] + k) : (v8f){0};
                transpose8(r);
                for (int kk = 0; kk < 8; kk++) {
                    if (group == 8) STORE8(dst + (k + kk) * MR + i8, r[kk]);
                    else memcpy(dst + (k + kk) * MR + i8, &r[kk], sizeof(float) * group);
                }
            }
        }
        for (; k < kc; k++)
            for (int i = 0; i < MR; i++) dst[k * MR + i] = i < rows ? src[i][k] : 0.0f;
    }
}

/* Bp holds ceil(nc/NR) slivers, each kc x NR: Bp[s][k][j] = op(B)[k0 + k][j0 + s*NR + j], columns past nc = 0. */
static inline __attribute__((always_inline))
void pack_b(float *restrict Bp, int trans_b, const float *restrict B, long ldb, int k0, int kc, int j0, int nc) {
    if (!trans_b) { /* B is (K, N): read each row once, front to back (rows a page apart defeat prefetching
                     * when walked sliver by sliver), handing NR values to each sliver */
        for (int k = 0; k < kc; k++) {
            const float *restrict src = B + (long)(k0 + k) * ldb + j0;
            for (int s = 0; s < nc; s += NR) {
                float *restrict dst = Bp + (long)s * kc + k * NR;
                int cols = min_int(NR, nc - s);
                if (cols == NR) memcpy(dst, src + s, sizeof(float) * NR);
                else for (int j = 0; j < NR; j++) dst[j] = j < cols ? src[s + j] : 0.0f;
            }
        }
        return;
    }
    for (int s = 0; s < nc; s += NR) {
        int cols = min_int(NR, nc - s);
        float *restrict dst = Bp + (long)s * kc;
        if (cols == NR) { /* B is (N, K): a transpose, 8 x 8 blocks at a time, then the ragged depth */
            int k = 0;
            for (; k + 8 <= kc; k += 8) {
                for (int half = 0; half < NR; half += 8) {
                    v8f r[8];
                    for (int j = 0; j < 8; j++) r[j] = LOAD8(B + (long)(j0 + s + half + j) * ldb + k0 + k);
                    transpose8(r);
                    for (int kk = 0; kk < 8; kk++) STORE8(dst + (k + kk) * NR + half, r[kk]);
                }
            }
            for (; k < kc; k++)
                for (int j = 0; j < NR; j++) dst[k * NR + j] = B[(long)(j0 + s + j) * ldb + k0 + k];
        } else {        /* the last, partial sliver of a transposed B */
            for (int j = 0; j < NR; j++) {
                if (j < cols) {
                    const float *restrict src = B + (long)(j0 + s + j) * ldb + k0;
                    for (int k = 0; k < kc; k++) dst[k * NR + j] = src[k];
                } else {
                    for (int k = 0; k < kc; k++) dst[k * NR + j] = 0.0f;
                }
            }
        }
    }
}

/* The register tile: C[0:mr, 0:nr] = alpha * (a-sliver x b-sliver) + beta * C, over kc steps. beta == 0
 * never reads C (it may hold NaN). The full and ragged tiles share one arithmetic, so an element's value
 * does not depend on where the tile boundaries fall. */
static inline __attribute__((always_inline))
void tile_rows(int kc, const float *restrict a, const float *restrict b, float *restrict c, long ldc,
               int mr, int nr, float alpha, float beta, int rows) {
    vf acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = (vf){0};
    /* the tile of C is read and written once the depth is done: ask for its lines now, so that those misses
     * (C of a large product lives far out in the hierarchy) overlap the multiply-adds instead of following them */
    for (int i = 0; i < mr; i++) {
        __builtin_prefetch(c + i * ldc, 1);
        __builtin_prefetch(c + i * ldc + NR - 1, 1);
    }
    for (int k = 0; k < kc; k++) {
        vf b0 = LOADV(b), b1 = LOADV(b + VW);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) {  /* rows: a constant, MR or fewer for the last rows of C */
            acc[i][0] += a[i] * b0;
            acc[i][1] += a[i] * b1;
        }
        a += MR;
        b += NR;
    }
    if (mr == MR && nr == NR) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            float *ci = c + i * ldc;
            if (beta == 0.0f) {
                STOREV(ci, alpha * acc[i][0]);
                STOREV(ci + VW, alpha * acc[i][1]);
            } else {
                STOREV(ci, alpha * acc[i][0] + beta * LOADV(ci));
                STOREV(ci + VW, alpha * acc[i][1] + beta * LOADV(ci + VW));
            }
        }
        return;
    }
    float edge[NR] __attribute__((aligned(64)));
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        for (int j = 0; j < NR; j++) edge[j] = j < nr && beta != 0.0f ? ci[j] : 0.0f;
        STOREV(edge, beta == 0.0f ? alpha * acc[i][0] : alpha * acc[i][0] + beta * LOADV(edge));
        STOREV(edge + VW, beta == 0.0f ? alpha * acc[i][1] : alpha * acc[i][1] + beta * LOADV(edge + VW));
        memcpy(ci, edge, sizeof(float) * nr);
    }
}

/* The tile, with the multiply-adds of the padding rows left out when the tile is the last, ragged one down C
 * (M = 128 ends in a 2-row tile): the rows it keeps get the very same steps, so their values do not change. */
static inline __attribute__((always_inline))
void tile_kernel(int kc, const float *restrict a, const float *restrict b, float *restrict c, long ldc,
                 int mr, int nr, float alpha, float beta) {
    if (mr > 8 || (MR <= 8 && mr > 4)) tile_rows(kc, a, b, c, ldc, mr, nr, alpha, beta, MR);
    else if (MR > 8 && mr > 4) tile_rows(kc, a, b, c, ldc, mr, nr, alpha, beta, 8);
    else if (mr > 2) tile_rows(kc, a, b, c, ldc, mr, nr, alpha, beta, 4);
    else tile_rows(kc, a, b, c, ldc, mr, nr, alpha, beta, 2);
}

/* One thread's whole product: C (M, N) = alpha op(A) op(B) + beta C, with K >= 1. */
static void sgemm_serial(int trans_a, int trans_b, int M, int N, int K, float alpha,
                         const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    int kstep = balanced_step(K, KC, 1);
    int mstep = balanced_step(M, MC, MR);
    for (int j0 = 0; j0 < N; j0 += NC) {
        int nc = min_int(NC, N - j0);
        for (int k0 = 0; k0 < K; k0 += kstep) {
            int kc = min_int(kstep, K - k0);
            float beta_k = k0 == 0 ? beta : 1.0f;  /* later blocks add to what the first one wrote */
            pack_b(packed_b, trans_b, B, ldb, k0, kc, j0, nc);
            for (int i0 = 0; i0 < M; i0 += mstep) {
                int mc = min_int(mstep, M - i0);
                pack_a(packed_a, trans_a, A, lda, i0, mc, k0, kc);
                /* B's sliver outside, A's inside: one kc x NR sliver of B stays in L1 while A streams from L2 */
                for (int jr = 0; jr < nc; jr += NR)
                    for (int ir = 0; ir < mc; ir += MR)
                        tile_kernel(kc, packed_a + (long)ir * kc, packed_b + (long)jr * kc,
                                    C + (long)(i0 + ir) * ldc + j0 + jr, ldc,
                                    min_int(MR, mc - ir), min_int(NR, nc - jr), alpha, beta_k);
            }
        }
    }
}

/* Thread t of a team of `team` threads: a share of [0, n) in whole units of `unit`, the same split everywhere. */
static inline int share_start(int n, int unit, int t, int team) {
    int units = (n + unit - 1) / unit;
    return min_int((int)((long)units * t / team) * unit, n);
}

#ifdef _OPENMP
#define TEAM_BARRIER() _Pragma("omp barrier")
#else
#define TEAM_BARRIER() ((void)0)
#endif

/* Unit counters of a team, one per thread and a cache line apart so that counting is not shared traffic. */
#define MAX_TEAM 64
typedef struct { int next; char pad[60]; } __attribute__((aligned(64))) team_counter;

/* The next unit of work for whoever asks first (a counter the team shares). */
static inline int grab(team_counter *c) {
    int u;
#ifdef _OPENMP
    #pragma omp atomic capture
#endif
    u = c->next++;
    return u;
}

/* One member of a team computing C = alpha op(A) op(B) + beta C, called by every thread of the team with
 * the same arguments but its own t. The team packs each panel of op(B) and each block of op(A) once, into
 * the shared buffers, every thread a disjoint run of slivers; then the threads take the block's tiles a few at
 * a time, first come first served, so a core slowed by something else does less of the work rather than
 * holding up the team. The block sizes, the blocks of depth and the tile arithmetic are sgemm_serial's, so
 * every element of C is what sgemm_serial computes, whichever thread computes it. */
static void sgemm_team(int trans_a, int trans_b, int M, int N, int K, float alpha,
                       const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc,
                       float *shared_a, float *shared_b, team_counter *next, int t, int team) {
    int kstep = balanced_step(K, KC, 1);
    int mstep = balanced_step(M, MC, MR);
    for (int j0 = 0; j0 < N; j0 += NC) {
        int nc = min_int(NC, N - j0);
        int slivers = (nc + NR - 1) / NR;
        for (int k0 = 0; k0 < K; k0 += kstep) {
            int kc = min_int(kstep, K - k0);
            float beta_k = k0 == 0 ? beta : 1.0f;
            int b_lo = share_start(nc, NR, t, team), b_hi = share_start(nc, NR, t + 1, team);
            if (b_hi > b_lo) pack_b(shared_b + (long)b_lo * kc, trans_b, B, ldb, k0, kc, j0 + b_lo, b_hi - b_lo);
            for (int i0 = 0; i0 < M; i0 += mstep) {
                int mc = min_int(mstep, M - i0);
                int a_lo = share_start(mc, MR, t, team), a_hi = share_start(mc, MR, t + 1, team);
                if (a_hi > a_lo) pack_a(shared_a + (long)a_lo * kc, trans_a, A, lda, i0 + a_lo, a_hi - a_lo, k0, kc);
                TEAM_BARRIER();  /* the panel of B and the block of A are whole */
                /* a unit: one sliver of B against a group of at most TEAM_TILES tiles down the block of A */
                int tiles = (mc + MR - 1) / MR;
                int groups = (tiles + TEAM_TILES - 1) / TEAM_TILES;
                int per_group = (tiles + groups - 1) / groups;
                /* first the units of the slivers this thread packed, then whatever is left of the others' */
                for (int v = 0; v < team; v++) {
                    int owner = (t + v) % team;
                    int u_lo = (int)((long)slivers * owner / team) * groups;  /* the slivers it packed */
                    int u_hi = (int)((long)slivers * (owner + 1) / team) * groups;
                    for (int u = u_lo + grab(&next[owner]); u < u_hi; u = u_lo + grab(&next[owner])) {
                        int jr = u / groups * NR, g = u % groups;
                        int ir_end = min_int((g + 1) * per_group * MR, mc);
                        for (int ir = g * per_group * MR; ir < ir_end; ir += MR)
                            tile_kernel(kc, shared_a + (long)ir * kc, shared_b + (long)jr * kc,
                                        C + (long)(i0 + ir) * ldc + j0 + jr, ldc,
                                        min_int(MR, mc - ir), min_int(NR, nc - jr), alpha, beta_k);
                    }
                }
                TEAM_BARRIER();  /* every unit done: the buffers and the counter may be reused */
                if (t == 0)  /* no one asks again before the next barrier, by which the next block has begun */
                    for (int o = 0; o < team; o++) next[o].next = 0;
            }
        }
    }
}

/* C = alpha A B^T + beta C with A (M, K) and B (N, K) both stored by rows, for rows [i_first, i_last) of C.
 * Why a second path: when M (or N) is small, packing B costs as much as the multiply (a forward pass at
 * batch 10), while here every element is a dot product of two contiguous rows and nothing is copied. A
 * DR x DC tile keeps DR*DC vector partial sums; an element's value is its lanes summed in a fixed order
 * plus the scalar tail, whatever tile it falls in (edge tiles repeat the last row or column and drop it). */
static void sgemm_nt_dot(int N, int K, float alpha, const float *A, long lda, const float *B, long ldb,
                         float beta, float *C, long ldc, int i_first, int i_last) {
    int kv = K / VW * VW;
    for (int i0 = i_first; i0 < i_last; i0 += DR) {
        const float *a[DR];
        for (int r = 0; r < DR; r++) a[r] = A + (long)min_int(i0 + r, i_last - 1) * lda;
        for (int j0 = 0; j0 < N; j0 += DC) {
            const float *b[DC];
            for (int c = 0; c < DC; c++) b[c] = B + (long)min_int(j0 + c, N - 1) * ldb;
            vf acc[DR][DC];
            for (int r = 0; r < DR; r++)
                for (int c = 0; c < DC; c++) acc[r][c] = (vf){0};
            for (int k = 0; k < kv; k += VW) {
                vf av[DR];
                for (int r = 0; r < DR; r++) av[r] = LOADV(a[r] + k);
#pragma GCC unroll 5
                for (int c = 0; c < DC; c++) {
                    vf bv = LOADV(b[c] + k);
                    for (int r = 0; r < DR; r++) acc[r][c] += av[r] * bv;
                }
            }
            for (int r = 0; r < min_int(DR, i_last - i0); r++) {
                for (int c = 0; c < min_int(DC, N - j0); c++) {
                    vf v = acc[r][c];
                    for (int half = VW / 2; half > 1; half /= 2)  /* lanes i and i + half, halving to two */
                        for (int i = 0; i < half; i++) v[i] += v[i + half];
                    float sum = v[0] + v[1];
                    for (int k = kv; k < K; k++) sum += a[r][k] * b[c][k];
                    float *cij = C + (long)(i0 + r) * ldc + j0 + c;
                    *cij = beta == 0.0f ? alpha * sum : alpha * sum + beta * *cij;
                }
            }
        }
    }
}

/* Floats in one packed block row of op(B): every NR-column sliver of N, padded. */
static inline long padded_cols(int N) { return (long)(N + NR - 1) / NR * NR; }

/* op(B) (K, N) packed whole, block after block of depth: the block starting at depth k0 sits at
 * Bp + k0 * padded_cols(N) in exactly the layout pack_b gives one NC panel, so the tiles read it alike. */
static void pack_b_whole(int trans_b, int N, int K, const float *B, long ldb, float *Bp) {
    int kstep = balanced_step(K, KC, 1);
    for (int k0 = 0; k0 < K; k0 += kstep)
        pack_b(Bp + (long)k0 * padded_cols(N), trans_b, B, ldb, k0, min_int(kstep, K - k0), 0, N);
}

/* sgemm_serial with op(B) already packed by pack_b_whole, for the columns [j_first, j_last) of C (whole
 * slivers). The same blocks of depth in the same order and the same tile arithmetic, so every element equals
 * what sgemm_serial computes. */
static void sgemm_packed_serial(int trans_a, int M, int N, int K, float alpha, const float *A, long lda,
                                const float *Bp, float beta, float *C, long ldc, int j_first, int j_last) {
    int kstep = balanced_step(K, KC, 1);
    int mstep = balanced_step(M, MC, MR);
    long npad = padded_cols(N);
    for (int k0 = 0; k0 < K; k0 += kstep) {
        int kc = min_int(kstep, K - k0);
        float beta_k = k0 == 0 ? beta : 1.0f;
        const float *Bk = Bp + (long)k0 * npad;
        for (int i0 = 0; i0 < M; i0 += mstep) {
            int mc = min_int(mstep, M - i0);
            pack_a(packed_a, trans_a, A, lda, i0, mc, k0, kc);
            for (int jr = j_first; jr < j_last; jr += NR)
                for (int ir = 0; ir < mc; ir += MR)
                    tile_kernel(kc, packed_a + (long)ir * kc, Bk + (long)jr * kc, C + (long)(i0 + ir) * ldc + jr,
                                ldc, min_int(MR, mc - ir), min_int(NR, N - jr), alpha, beta_k);
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

static void scale_c(int M, int N, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (long)i * ldc;
        if (beta == 0.0f) memset(c, 0, sizeof(float) * N);
        else if (beta != 1.0f) for (int j = 0; j < N; j++) c[j] *= beta;
    }
}

/* Cores no other process is running on, by the count of runnable tasks in /proc/loadavg (which includes the
 * caller), read at most every LOAD_CHECK_NS: a team of threads on a core another process keeps busy waits at
 * every barrier for the time slice it was not given (an LSTM epoch measured 3.4 s on two threads beside a busy
 * loop against 1.1 s on one; every core regardless, -DTUNE_ALL_CORES, took a median 80-320 ms an LSTM batch
 * beside a busy loop against 17-30 ms). Where there is no /proc, every core counts as free. */
#define LOAD_CHECK_NS 100000000L
static int free_cores(int cores) {
#if defined(__linux__) && !defined(TUNE_ALL_CORES)
    /* PYNN_ALL_CORES=1: every core, whatever the load (the tests that compare one thread with two; a machine of
     * one's own). Read once; -1 until then. */
    static _Atomic int all_cores = -1;
    if (all_cores < 0) {
        const char *env = getenv("PYNN_ALL_CORES");
        all_cores = env && strcmp(env, "1") == 0;
    }
    if (all_cores) return cores;
    static _Atomic long checked_at = -LOAD_CHECK_NS;
    static _Atomic int free_seen = 1 << 30;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ns = now.tv_sec * 1000000000L + now.tv_nsec;
    if (ns - checked_at >= LOAD_CHECK_NS) {
        checked_at = ns;
        int fd = open("/proc/loadavg", O_RDONLY);
        if (fd >= 0) {
            char text[128] = {0};
            ssize_t got = read(fd, text, sizeof text - 1);
            close(fd);
            double one, five, fifteen;
            int running = 0;
            if (got > 0 && sscanf(text, "%lf %lf %lf %d/", &one, &five, &fifteen, &running) == 4 && running > 0)
                free_seen = cores - (running - 1);  /* running counts this thread too */
        }
    }
    int f = free_seen;
    return f < 1 ? 1 : f < cores ? f : cores;
#else
    return cores;
#endif
}

int pynn_team_size(double flops) {
#ifdef _OPENMP
    if (flops < PARALLEL_FLOPS || omp_in_parallel()) return 1;
    int cores = omp_get_max_threads();  /* OMP_NUM_THREADS, else the cores this process may run on */
    if (cores <= 1) return 1;
    /* two threads pay only from about twice the bound: below that, waking and joining cost what they save */
    int by_work = (int)(flops / PARALLEL_FLOPS);
    int team = free_cores(cores);
    return by_work < team ? (by_work < 1 ? 1 : by_work) : team;
#else
    (void)flops;
    return 1;
#endif
}

void pynn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                const float *restrict A, int lda, const float *restrict B, int ldb,
                float beta, float *restrict C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    int threads = pynn_team_size(2.0 * M * N * K);
    if (!trans_a && trans_b && (M <= DOT_MAX_ROWS || (N <= DOT_MAX_COLS && M <= DOT_MAX_ROWS_NARROW))) {
        /* rows of C in whole tiles per thread: each element is computed the same way whoever computes it */
        int tiles = (M + DR - 1) / DR;
#ifdef _OPENMP
        #pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
        for (int t = 0; t < threads; t++) {
            int first = (int)((long)tiles * t / threads) * DR;
            int last = min_int((int)((long)tiles * (t + 1) / threads) * DR, M);
            if (last > first) sgemm_nt_dot(N, K, alpha, A, lda, B, ldb, beta, C, ldc, first, last);
        }
        return;
    }
    if (threads == 1) {
        sgemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (N <= NARROW_N) {
        /* a narrow product (W6's 10000 x 30): the team below would meet at two barriers per block of A, over
         * a hundred per call for little work each, so each thread multiplies its own rows instead, packing the
         * small op(B) itself; the blocks of depth and the tiles are sgemm_serial's, so are the values */
        int tiles = (M + MR - 1) / MR;
#ifdef _OPENMP
        #pragma omp parallel for schedule(static) num_threads(threads)
#endif
        for (int t = 0; t < threads; t++) {
            int i0 = (int)((long)tiles * t / threads) * MR;
            int i1 = min_int((int)((long)tiles * (t + 1) / threads) * MR, M);
            if (i1 > i0)
                sgemm_serial(trans_a, trans_b, i1 - i0, N, K, alpha, trans_a ? A + i0 : A + (long)i0 * lda, lda,
                             B, ldb, beta, C + (long)i0 * ldc, ldc);
        }
        return;
    }
    /* A team: the operands are packed once, into the calling thread's buffers (each caller has its own) */
    team_counter next[MAX_TEAM] = {{0}};
    if (threads > MAX_TEAM) threads = MAX_TEAM;
    float *shared_a = packed_a, *shared_b = packed_b;
#ifdef _OPENMP
    #pragma omp parallel num_threads(threads)
    sgemm_team(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, shared_a, shared_b, next,
               omp_get_thread_num(), omp_get_num_threads());
#else
    sgemm_team(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, shared_a, shared_b, next, 0, 1);
#endif
}

const char *pynn_build_isa(void) { return PYNN_BUILD_ISA; }

int pynn_cpu_runs(const char *isa) {
    if (strcmp(isa, "generic") == 0) return 1;
#if defined(__x86_64__) && defined(__GNUC__)
    /* the x86-64 levels the builds are compiled for; libgcc also checks the OS saves the wider registers */
    __builtin_cpu_init();
    if (strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("x86-64-v3") != 0;
    if (strcmp(isa, "avx512") == 0) return __builtin_cpu_supports("x86-64-v4") != 0;
#endif
    return 0;
}

/* Twelve independent accumulators: enough to cover the multiply-add's latency (4 cycles) on two units. The
 * empty asm says each may have changed, so the compiler neither folds the chain nor drops the loop. */
#if defined(__AVX__)
#define OPAQUE(x) __asm__ volatile("" : "+v"(x))
#else
#define OPAQUE(x) __asm__ volatile("" : "+m"(x))
#endif
#define FMA_STEP(x) do { x = x * scale + add; OPAQUE(x); } while (0)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif
double pynn_fma_peak(int64_t rounds, int threads) {
    if (threads < 1) threads = 1;
    volatile float sink = 0.0f;
#ifdef _OPENMP
    #pragma omp parallel num_threads(threads)
#endif
    {
        const vf scale = vf_splat(0.9999999f), add = vf_splat(1e-7f);
        vf a0 = scale, a1 = scale, a2 = scale, a3 = scale, a4 = scale, a5 = scale, a6 = scale, a7 = scale,
           a8 = scale, a9 = scale, a10 = scale, a11 = scale;
        for (int64_t r = 0; r < rounds; r++) {
            FMA_STEP(a0); FMA_STEP(a1); FMA_STEP(a2); FMA_STEP(a3); FMA_STEP(a4); FMA_STEP(a5);
            FMA_STEP(a6); FMA_STEP(a7); FMA_STEP(a8); FMA_STEP(a9); FMA_STEP(a10); FMA_STEP(a11);
        }
        vf sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
#ifdef _OPENMP
        #pragma omp atomic
#endif
        sink += sum[0];
    }
    (void)sink;
    return 2.0 * VW * 12 * (double)rounds * threads;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

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

/* ---------------------------------------------------------------------------------------------------- */
/* The same multiply with op(B) packed once and reused: an LSTM multiplies by the same Wh at every step, and
 * with a batch of 32 rows repacking Wh costs as much as the multiply itself. */

int64_t pynn_sgemm_packed_size(int N, int K) {
    return N <= 0 || K <= 0 ? 0 : (int64_t)padded_cols(N) * K;
}

void pynn_sgemm_pack_b(int trans_b, int N, int K, const float *restrict B, int ldb, float *restrict Bp) {
    if (N > 0 && K > 0) pack_b_whole(trans_b, N, K, B, ldb, Bp);
}

void pynn_sgemm_packed(int trans_a, int M, int N, int K, float alpha, const float *restrict A, int lda,
                       const float *restrict Bp, float beta, float *restrict C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    int threads = pynn_team_size(2.0 * M * N * K);
    int n_tiles = (N + NR - 1) / NR, m_tiles = (M + MR - 1) / MR;
    if (threads == 1) {
        sgemm_packed_serial(trans_a, M, N, K, alpha, A, lda, Bp, beta, C, ldc, 0, n_tiles * NR);
        return;
    }
    /* the split that comes out most even, as in pynn_sgemm: columns share the packed B, rows each pack A */
    double n_cost = (double)((n_tiles + threads - 1) / threads) * NR * M;
    double m_cost = (double)((m_tiles + threads - 1) / threads) * MR * N;
    int split_n = n_cost <= m_cost;
    int tiles = split_n ? n_tiles : m_tiles;
#ifdef _OPENMP
    #pragma omp parallel num_threads(threads)
#endif
    {
#ifdef _OPENMP
        int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
        int t = 0, team = 1;
#endif
        int first = (int)((long)tiles * t / team), last = (int)((long)tiles * (t + 1) / team);
        if (last > first) {
            if (split_n) {
                sgemm_packed_serial(trans_a, M, N, K, alpha, A, lda, Bp, beta, C, ldc, first * NR, last * NR);
            } else {
                int i0 = first * MR, i1 = min_int(last * MR, M);
                const float *At = trans_a ? A + i0 : A + (long)i0 * lda;
                sgemm_packed_serial(trans_a, i1 - i0, N, K, alpha, At, lda, Bp, beta, C + (long)i0 * ldc, ldc,
                                    0, n_tiles * NR);
            }
        }
    }
}
