/* lstm.c - the LSTM layer over a whole sequence, forward and backward through time, on top of pynn_sgemm.
 *
 * The input projection x Wx^T + b for all T steps is one large multiply up front; each step then adds
 * h_{t-1} Wh^T, one multiply of (B, U) by (U, 4U), reading h_{t-1} in place through the row stride, against
 * a copy of Wh packed once per call (with 32 rows per step, repacking Wh each step cost as much as the
 * multiply). The gate nonlinearities are vectorised (vecmath.h): with libm's scalar expf and tanhf they took
 * more time than all the multiplies together. Backward likewise packs Wh once for the per-step dh multiply,
 * and computes dWh as one multiply over all steps against h shifted by one step.
 *
 * Threads: the samples of a batch are independent through time, so each thread runs the whole recurrence
 * for its own share of the batch, in one parallel region per call. Splitting each step's small multiply
 * instead cost a fork and a barrier per step (100 per batch for 50 steps), and on a busy machine a barrier
 * waits for a descheduled partner. Every element is computed the same way whichever thread owns its sample,
 * so the results do not depend on the thread count. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "pynn.h"
#include "vecmath.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif

/* Threads for the recurrence: as many as the per-step multiplies' work and the free cores allow (matmul.c's
 * pynn_team_size), at most one per sample. */
static int recurrence_team(int B, int T, int U) {
    int team = pynn_team_size(8.0 * B * T * (double)U * U);
    return team < B ? team : B > 0 ? B : 1;
}

/* The samples [first, last) of this thread's share of B. */
static void my_samples(int B, int *first, int *last) {
#ifdef _OPENMP
    int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
    int t = 0, team = 1;
#endif
    *first = (int)((long)B * t / team);
    *last = (int)((long)B * (t + 1) / team);
}

int64_t pynn_lstm_workspace(int B, int T, int n_in, int U) {
    (void)n_in;
    int64_t forward = pynn_sgemm_packed_size(4 * U, U);
    int64_t backward = 2 * (int64_t)B * U + pynn_sgemm_packed_size(U, 4 * U) + (int64_t)B * T * U;
    return forward > backward ? forward : backward;
}

/* One step's cells for one sample, VW units (a vector): pre-activations in, gates, c and h out. */
static inline __attribute__((always_inline))
void cell_forward_v(vf *i, vf *f, vf *g, vf *o, vf cprev, vf *c, vf *h) {
    *i = vf_sigmoid(*i), *f = vf_sigmoid(*f), *g = vf_tanh(*g), *o = vf_sigmoid(*o);
    *c = *i * *g + *f * cprev;
    *h = *o * vf_tanh(*c);
}

/* gate row g (4U) of one sample at one step: nonlinearities in place, then ct and ht (cprev NULL: zero).
 * The units past the last whole vector go through the same code in a zero-padded vector. */
static void cells_forward(float *restrict g, float *restrict ct, float *restrict ht, const float *restrict cprev,
                          int U) {
    int u = 0;
    for (; u + VW <= U; u += VW) {
        vf i = LOADV(g + u), f = LOADV(g + U + u), gg = LOADV(g + 2 * U + u), o = LOADV(g + 3 * U + u);
        vf cp = cprev ? LOADV(cprev + u) : vf_splat(0.0f), cv, hv;
        cell_forward_v(&i, &f, &gg, &o, cp, &cv, &hv);
        STOREV(g + u, i), STOREV(g + U + u, f), STOREV(g + 2 * U + u, gg), STOREV(g + 3 * U + u, o);
        STOREV(ct + u, cv), STOREV(ht + u, hv);
    }
    int rest = U - u;
    if (rest > 0) {
        float buf[7][VW] __attribute__((aligned(64)));
        memset(buf, 0, sizeof buf);
        for (int k = 0; k < 4; k++) memcpy(buf[k], g + k * U + u, sizeof(float) * rest);
        if (cprev) memcpy(buf[4], cprev + u, sizeof(float) * rest);
        vf i = LOADV(buf[0]), f = LOADV(buf[1]), gg = LOADV(buf[2]), o = LOADV(buf[3]), cv, hv;
        cell_forward_v(&i, &f, &gg, &o, LOADV(buf[4]), &cv, &hv);
        STOREV(buf[0], i), STOREV(buf[1], f), STOREV(buf[2], gg), STOREV(buf[3], o);
        STOREV(buf[5], cv), STOREV(buf[6], hv);
        for (int k = 0; k < 4; k++) memcpy(g + k * U + u, buf[k], sizeof(float) * rest);
        memcpy(ct + u, buf[5], sizeof(float) * rest);
        memcpy(ht + u, buf[6], sizeof(float) * rest);
    }
}

void pynn_lstm_forward(float *restrict h, float *restrict c, float *restrict gates, const float *restrict x,
                       const float *restrict h0, const float *restrict c0, const float *restrict Wx,
                       const float *restrict Wh, const float *restrict b, int B, int T, int n_in, int U,
                       float *restrict work) {
    /* x (B, T, n_in); h0, c0 (B, U) or NULL for zero; h, c (B, T, U); gates (B, T, 4U); work holds Wh^T packed */
    const int G = 4 * U;
    const long BT = (long)B * T;
    pynn_sgemm(0, 1, (int)BT, G, n_in, 1.0f, x, n_in, Wx, n_in, 0.0f, gates, G);
    for (long r = 0; r < BT; r++) {
        float *restrict row = gates + r * G;
        for (int j = 0; j < G; j++) row[j] += b[j];
    }
    if (T > 1 || h0) pynn_sgemm_pack_b(1, G, U, Wh, U, work);  /* op(B) = Wh^T (U, 4U) */
    int team = recurrence_team(B, T, U);
#ifdef _OPENMP
    #pragma omp parallel num_threads(team) if (team > 1)
#endif
    {
        int s0, s1;
        my_samples(B, &s0, &s1);
        for (int t = 0; t < T && s1 > s0; t++) {
            if (t > 0)  /* gates[s, t] += h[s, t-1] Wh^T for this thread's samples, strided views */
                pynn_sgemm_packed(0, s1 - s0, G, U, 1.0f, h + ((long)s0 * T + t - 1) * U, T * U, work, 1.0f,
                                  gates + ((long)s0 * T + t) * G, T * G);
            else if (h0)  /* the state carried in: gates[s, 0] += h0[s] Wh^T */
                pynn_sgemm_packed(0, s1 - s0, G, U, 1.0f, h0 + (long)s0 * U, U, work, 1.0f,
                                  gates + (long)s0 * T * G, T * G);
            for (int s = s0; s < s1; s++) {
                long at = (long)s * T + t;
                const float *cprev = t > 0 ? c + (at - 1) * U : c0 ? c0 + (long)s * U : NULL;
                cells_forward(gates + at * G, c + at * U, h + at * U, cprev, U);
            }
        }
    }
}

/* One step's cells for one sample, VW units, backward: from the gates, c_t, c_{t-1}, the gradient reaching h_t
 * (dh_t + dh from step t+1) and dc from step t+1, the gate gradients and dc for step t-1. */
static inline __attribute__((always_inline))
void cell_backward_v(vf i, vf f, vf g, vf o, vf ct, vf cprev, vf dht, vf *dcn,
                    vf *di, vf *df, vf *dg, vf *do_) {
    const vf one = vf_splat(1.0f);
    vf th = vf_tanh(ct);
    vf dc = *dcn + dht * o * (one - th * th);
    *di = dc * g * i * (one - i);
    *df = dc * cprev * f * (one - f);
    *dg = dc * i * (one - g * g);
    *do_ = dht * th * o * (one - o);
    *dcn = dc * f;
}

static void cells_backward(float *restrict dg, float *restrict dcn, const float *restrict dhn,
                           const float *restrict dht, const float *restrict g, const float *restrict ct,
                           const float *restrict cprev, int U) {
    int u = 0;
    for (; u + VW <= U; u += VW) {
        vf dcv = LOADV(dcn + u), di, df, dgg, dov;
        cell_backward_v(LOADV(g + u), LOADV(g + U + u), LOADV(g + 2 * U + u), LOADV(g + 3 * U + u), LOADV(ct + u),
                       cprev ? LOADV(cprev + u) : vf_splat(0.0f), LOADV(dht + u) + LOADV(dhn + u), &dcv,
                       &di, &df, &dgg, &dov);
        STOREV(dg + u, di), STOREV(dg + U + u, df), STOREV(dg + 2 * U + u, dgg), STOREV(dg + 3 * U + u, dov);
        STOREV(dcn + u, dcv);
    }
    int rest = U - u;
    if (rest > 0) {
        float buf[9][VW] __attribute__((aligned(64)));
        memset(buf, 0, sizeof buf);
        for (int k = 0; k < 4; k++) memcpy(buf[k], g + k * U + u, sizeof(float) * rest);
        memcpy(buf[4], ct + u, sizeof(float) * rest);
        if (cprev) memcpy(buf[5], cprev + u, sizeof(float) * rest);
        memcpy(buf[6], dht + u, sizeof(float) * rest);
        memcpy(buf[7], dhn + u, sizeof(float) * rest);
        memcpy(buf[8], dcn + u, sizeof(float) * rest);
        vf dcv = LOADV(buf[8]), di, df, dgg, dov;
        cell_backward_v(LOADV(buf[0]), LOADV(buf[1]), LOADV(buf[2]), LOADV(buf[3]), LOADV(buf[4]), LOADV(buf[5]),
                       LOADV(buf[6]) + LOADV(buf[7]), &dcv, &di, &df, &dgg, &dov);
        STOREV(buf[0], di), STOREV(buf[1], df), STOREV(buf[2], dgg), STOREV(buf[3], dov), STOREV(buf[8], dcv);
        for (int k = 0; k < 4; k++) memcpy(dg + k * U + u, buf[k], sizeof(float) * rest);
        memcpy(dcn + u, buf[8], sizeof(float) * rest);
    }
}

void pynn_lstm_backward(float *restrict dx, float *restrict dWx, float *restrict dWh, float *restrict db,
                        float *restrict dgates, float *restrict work, const float *restrict dh,
                        const float *restrict x, const float *restrict h0, const float *restrict c0,
                        const float *restrict h, const float *restrict c, const float *restrict gates,
                        const float *restrict Wx, const float *restrict Wh, int B, int T, int n_in, int U) {
    /* work: dh_next (B, U) and dc_next (B, U), the gradients flowing back from step t+1; Wh packed as op(B)
     * of dgates_t Wh; h_prev (B, T, U), h shifted one step later with h0 (or zeros) at t = 0. No gradient
     * flows into h0 and c0: the state carried in is a constant of this window (truncated BPTT). */
    const int G = 4 * U;
    const long BT = (long)B * T;
    float *restrict dh_next = work;
    float *restrict dc_next = work + (long)B * U;
    float *restrict wh_packed = dc_next + (long)B * U;
    float *restrict h_prev = wh_packed + pynn_sgemm_packed_size(U, G);
    memset(work, 0, sizeof(float) * 2 * (size_t)B * U);
    if (T > 1) pynn_sgemm_pack_b(0, U, G, Wh, U, wh_packed);  /* op(B) = Wh (4U, U) */
    int team = recurrence_team(B, T, U);
#ifdef _OPENMP
    #pragma omp parallel num_threads(team) if (team > 1)
#endif
    {
        int s0, s1;
        my_samples(B, &s0, &s1);
        for (int t = T - 1; t >= 0 && s1 > s0; t--) {
            for (int s = s0; s < s1; s++) {
                long at = (long)s * T + t;
                const float *cprev = t > 0 ? c + (at - 1) * U : c0 ? c0 + (long)s * U : NULL;
                cells_backward(dgates + at * G, dc_next + (long)s * U, dh_next + (long)s * U, dh + at * U,
                               gates + at * G, c + at * U, cprev, U);
            }
            /* gradient wrt h_{t-1} of this thread's samples: dgates_t Wh, (s1 - s0, 4U) x (4U, U) */
            if (t > 0)
                pynn_sgemm_packed(0, s1 - s0, U, G, 1.0f, dgates + ((long)s0 * T + t) * G, T * G, wh_packed, 0.0f,
                                  dh_next + (long)s0 * U, U);
        }
    }
    /* dWh += sum over t of dgates_t^T h_{t-1} (h_{-1} = h0): one multiply over all B*T rows against h shifted
     * by a step */
    for (int s = 0; s < B; s++) {
        float *restrict dst = h_prev + (long)s * T * U;
        if (h0)
            memcpy(dst, h0 + (long)s * U, sizeof(float) * U);
        else
            memset(dst, 0, sizeof(float) * U);
        memcpy(dst + U, h + (long)s * T * U, sizeof(float) * (size_t)(T - 1) * U);
    }
    pynn_sgemm(1, 0, G, U, (int)BT, 1.0f, dgates, G, h_prev, U, 1.0f, dWh, U);
    pynn_sgemm(1, 0, G, n_in, (int)BT, 1.0f, dgates, G, x, n_in, 1.0f, dWx, n_in);
    for (long r = 0; r < BT; r++) {
        const float *restrict row = dgates + r * G;
        for (int j = 0; j < G; j++) db[j] += row[j];
    }
    if (dx) pynn_sgemm(0, 0, (int)BT, n_in, G, 1.0f, dgates, G, Wx, n_in, 0.0f, dx, n_in);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
