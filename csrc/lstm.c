/* lstm.c - the LSTM layer over a whole sequence, forward and backward through time, on top of pynn_sgemm.
 *
 * The input projection x Wx^T + b for all T steps is one large multiply up front; each step then adds
 * h_{t-1} Wh^T, one multiply of (B, U) by (U, 4U), reading h_{t-1} in place through the row stride. */
#include <math.h>
#include <string.h>
#include "pynn.h"

static inline float sigm(float z) {
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

void pynn_lstm_forward(float *restrict h, float *restrict c, float *restrict gates, const float *restrict x,
                       const float *restrict Wx, const float *restrict Wh, const float *restrict b,
                       int B, int T, int n_in, int U) {
    /* x (B, T, n_in); h, c (B, T, U); gates (B, T, 4U) */
    const int G = 4 * U;
    const long BT = (long)B * T;
    pynn_sgemm(0, 1, (int)BT, G, n_in, 1.0f, x, n_in, Wx, n_in, 0.0f, gates, G);
    for (long r = 0; r < BT; r++) {
        float *restrict row = gates + r * G;
        for (int j = 0; j < G; j++) row[j] += b[j];
    }
    for (int t = 0; t < T; t++) {
        if (t > 0)  /* gates[:, t] += h[:, t-1] Wh^T, strided views of the (B, T, .) buffers */
            pynn_sgemm(0, 1, B, G, U, 1.0f, h + (long)(t - 1) * U, T * U, Wh, U, 1.0f, gates + (long)t * G,
                       T * G);
        for (int s = 0; s < B; s++) {
            long at = (long)s * T + t;
            float *restrict g = gates + at * G;
            float *restrict ct = c + at * U;
            float *restrict ht = h + at * U;
            const float *restrict cprev = t > 0 ? c + (at - 1) * U : NULL;
            for (int u = 0; u < U; u++) {
                float i = sigm(g[u]), f = sigm(g[U + u]), gg = tanhf(g[2 * U + u]), o = sigm(g[3 * U + u]);
                g[u] = i, g[U + u] = f, g[2 * U + u] = gg, g[3 * U + u] = o;
                ct[u] = i * gg + (cprev ? f * cprev[u] : 0.0f);
                ht[u] = o * tanhf(ct[u]);
            }
        }
    }
}

void pynn_lstm_backward(float *restrict dx, float *restrict dWx, float *restrict dWh, float *restrict db,
                        float *restrict dgates, float *restrict carry, const float *restrict dh,
                        const float *restrict x, const float *restrict h, const float *restrict c,
                        const float *restrict gates, const float *restrict Wx, const float *restrict Wh,
                        int B, int T, int n_in, int U) {
    /* carry holds dh_next (B, U) then dc_next (B, U): the gradients flowing back from step t+1 */
    const int G = 4 * U;
    const long BT = (long)B * T;
    float *restrict dh_next = carry;
    float *restrict dc_next = carry + (long)B * U;
    memset(carry, 0, sizeof(float) * 2 * (size_t)B * U);
    for (int t = T - 1; t >= 0; t--) {
        for (int s = 0; s < B; s++) {
            long at = (long)s * T + t;
            const float *restrict g = gates + at * G;
            const float *restrict ct = c + at * U;
            const float *restrict cprev = t > 0 ? c + (at - 1) * U : NULL;
            const float *restrict dht = dh + at * U;
            float *restrict dg = dgates + at * G;
            float *restrict dhn = dh_next + (long)s * U;
            float *restrict dcn = dc_next + (long)s * U;
            for (int u = 0; u < U; u++) {
                float i = g[u], f = g[U + u], gg = g[2 * U + u], o = g[3 * U + u];
                float th = tanhf(ct[u]);
                float dht_total = dht[u] + dhn[u];
                float dc = dcn[u] + dht_total * o * (1.0f - th * th);
                dg[u] = dc * gg * i * (1.0f - i);
                dg[U + u] = (cprev ? dc * cprev[u] : 0.0f) * f * (1.0f - f);
                dg[2 * U + u] = dc * i * (1.0f - gg * gg);
                dg[3 * U + u] = dht_total * th * o * (1.0f - o);
                dcn[u] = dc * f;
            }
        }
        /* gradient wrt h_{t-1}: dgates_t Wh, (B, 4U) x (4U, U) */
        if (t > 0) pynn_sgemm(0, 0, B, U, G, 1.0f, dgates + (long)t * G, T * G, Wh, U, 0.0f, dh_next, U);
    }
    for (int t = 1; t < T; t++)  /* dWh += dgates_t^T h_{t-1} */
        pynn_sgemm(1, 0, G, U, B, 1.0f, dgates + (long)t * G, T * G, h + (long)(t - 1) * U, T * U, 1.0f, dWh, U);
    pynn_sgemm(1, 0, G, n_in, (int)BT, 1.0f, dgates, G, x, n_in, 1.0f, dWx, n_in);
    for (long r = 0; r < BT; r++) {
        const float *restrict row = dgates + r * G;
        for (int j = 0; j < G; j++) db[j] += row[j];
    }
    if (dx) pynn_sgemm(0, 0, (int)BT, n_in, G, 1.0f, dgates, G, Wx, n_in, 0.0f, dx, n_in);
}
