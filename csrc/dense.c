/* dense.c - activations and the fully connected layer, forward and backward, on top of pynn_sgemm. */
#include <math.h>
#include "pynn.h"

static inline float sigmoidf(float x) {
    /* split by sign so exp never overflows */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void pynn_activate(float *y, const float *x, int64_t n, int act, float alpha) {
    switch (act) {
    case PYNN_SIGMOID:    for (int64_t i = 0; i < n; i++) y[i] = sigmoidf(x[i]); break;
    case PYNN_TANH:       for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]); break;
    case PYNN_RELU:       for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f; break;
    case PYNN_LEAKY_RELU: for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : alpha * x[i]; break;
    default:              if (y != x) for (int64_t i = 0; i < n; i++) y[i] = x[i]; break;
    }
}

void pynn_activate_backward(float *dx, const float *dy, const float *y, int64_t n, int act, float alpha) {
    switch (act) {
    case PYNN_SIGMOID:    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
    case PYNN_TANH:       for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]); break;
    case PYNN_RELU:       for (int64_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; break;
    case PYNN_LEAKY_RELU: for (int64_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : alpha * dy[i]; break;
    default:              if (dx != dy) for (int64_t i = 0; i < n; i++) dx[i] = dy[i]; break;
    }
}

void pynn_dense_forward(float *restrict out, const float *restrict x, const float *restrict W,
                        const float *restrict b, int m, int n_in, int n_out, int act, float alpha) {
    /* x is (m, n_in), W is (n_out, n_in), b is (n_out), out is (m, n_out) */
    pynn_sgemm(0, 1, m, n_out, n_in, 1.0f, x, n_in, W, n_in, 0.0f, out, n_out);
    for (int i = 0; i < m; i++) {
        float *restrict row = out + (long)i * n_out;
        for (int j = 0; j < n_out; j++) row[j] += b[j];
    }
    pynn_activate(out, out, (int64_t)m * n_out, act, alpha);
}

void pynn_dense_backward(float *restrict dx, float *restrict dW, float *restrict db, float *restrict dout,
                         const float *restrict out, const float *restrict x, const float *restrict W,
                         int m, int n_in, int n_out, int act, float alpha) {
    /* dout (m, n_out) becomes dz in place; dW (n_out, n_in) += dz^T x; db += column sums; dx = dz W */
    pynn_activate_backward(dout, dout, out, (int64_t)m * n_out, act, alpha);
    pynn_sgemm(1, 0, n_out, n_in, m, 1.0f, dout, n_out, x, n_in, 1.0f, dW, n_in);
    for (int i = 0; i < m; i++) {
        const float *restrict row = dout + (long)i * n_out;
        for (int j = 0; j < n_out; j++) db[j] += row[j];
    }
    if (dx) pynn_sgemm(0, 0, m, n_in, n_out, 1.0f, dout, n_out, W, n_in, 0.0f, dx, n_in);
}
