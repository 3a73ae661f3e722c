/* dense.c - activations and the fully connected layer, forward and backward, on top of pynn_sgemm. */
#include <string.h>
#include "pynn.h"
#include "vecmath.h"

/* y = f(x) for the sigmoid and tanh, a vector at a time with vecmath's polynomials (libm's scalar expf and
 * tanhf took as long as the batch's multiply at batch 10); the tail goes through a zero-padded vector, so
 * every element gets the same arithmetic. */
#define SQUASH(name, vector_fn)                                                                      \
    static void name(float *y, const float *x, int64_t n) {                                          \
        int64_t i = 0;                                                                               \
        for (; i + VW <= n; i += VW) STOREV(y + i, vector_fn(LOADV(x + i)));                         \
        if (i < n) {                                                                                 \
            float tail[VW] __attribute__((aligned(64))) = {0};                                       \
            memcpy(tail, x + i, sizeof(float) * (size_t)(n - i));                                    \
            STOREV(tail, vector_fn(LOADV(tail)));                                                    \
            memcpy(y + i, tail, sizeof(float) * (size_t)(n - i));                                    \
        }                                                                                            \
    }
SQUASH(sigmoid_all, vf_sigmoid)
SQUASH(tanh_all, vf_tanh)

void pynn_activate(float *y, const float *x, int64_t n, int act, float alpha) {
    switch (act) {
    case PYNN_SIGMOID:    sigmoid_all(y, x, n); break;
    case PYNN_TANH:       tanh_all(y, x, n); break;
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
