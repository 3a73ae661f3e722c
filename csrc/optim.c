/* optim.c - parameter updates over flat buffers, L2 decay on the leading weight block, gradient clipping. */
#include <math.h>
#include "pynn.h"

static inline float decayed(float g, float p, int64_t i, int64_t n_decay, float decay) {
    return i < n_decay ? g + decay * p : g;
}

void pynn_sgd_update(float *restrict p, const float *restrict g, int64_t n, int64_t n_decay,
                     float lr, float decay) {
    for (int64_t i = 0; i < n; i++) p[i] -= lr * decayed(g[i], p[i], i, n_decay, decay);
}

void pynn_momentum_update(float *restrict p, const float *restrict g, float *restrict v, int64_t n,
                          int64_t n_decay, float lr, float mu, float decay) {
    for (int64_t i = 0; i < n; i++) {
        v[i] = mu * v[i] - lr * decayed(g[i], p[i], i, n_decay, decay);
        p[i] += v[i];
    }
}

void pynn_adam_update(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                      int64_t n, int64_t n_decay, float lr, float beta1, float beta2, float eps, int64_t t,
                      float decay) {
    /* fold both bias corrections into one step size, as in the Adam paper's section 2 */
    float step = lr * sqrtf(1.0f - powf(beta2, (float)t)) / (1.0f - powf(beta1, (float)t));
    float eps_hat = eps * sqrtf(1.0f - powf(beta2, (float)t));
    for (int64_t i = 0; i < n; i++) {
        float gi = decayed(g[i], p[i], i, n_decay, decay);
        m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
        v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) + eps_hat);
    }
}

float pynn_clip_grad_norm(float *g, int64_t n, float max_norm) {
    double sq = 0.0;
    for (int64_t i = 0; i < n; i++) sq += (double)g[i] * g[i];
    float norm = (float)sqrt(sq);
    if (max_norm > 0.0f && norm > max_norm) {
        float s = max_norm / norm;
        for (int64_t i = 0; i < n; i++) g[i] *= s;
    }
    return norm;
}

void pynn_dropout(float *restrict out, const float *restrict x, const uint8_t *restrict mask, int64_t n,
                  float scale) {
    for (int64_t i = 0; i < n; i++) out[i] = mask[i] ? x[i] * scale : 0.0f;
}
