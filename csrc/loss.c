/* loss.c - the output losses, each fused with its output nonlinearity where that keeps it stable. */
#include <math.h>
#include "pynn.h"

float pynn_softmax_xent(float *restrict dlogits, float *restrict probs, const float *restrict logits,
                        const int32_t *restrict labels, int m, int k) {
    /* logits, dlogits, probs are (m, k); labels is (m) */
    double total = 0.0;
    float inv_m = 1.0f / (float)m;
    for (int i = 0; i < m; i++) {
        const float *z = logits + (long)i * k;
        float *d = dlogits + (long)i * k;
        float zmax = z[0];
        for (int j = 1; j < k; j++) zmax = z[j] > zmax ? z[j] : zmax;
        float sum = 0.0f;
        for (int j = 0; j < k; j++) { d[j] = expf(z[j] - zmax); sum += d[j]; }
        float inv_sum = 1.0f / sum;
        int y = labels[i];
        /* -log softmax_y = log(sum) - (z_y - zmax): never takes the log of an underflowed probability */
        total += (double)(logf(sum) - (z[y] - zmax));
        for (int j = 0; j < k; j++) {
            float p = d[j] * inv_sum;
            if (probs) probs[(long)i * k + j] = p;
            d[j] = (p - (j == y ? 1.0f : 0.0f)) * inv_m;
        }
    }
    return (float)(total / m);
}

float pynn_sigmoid_bce(float *restrict dlogits, float *restrict probs, const float *restrict logits,
                       const float *restrict targets, int m, int k) {
    double total = 0.0;
    float inv_m = 1.0f / (float)m;
    for (long i = 0; i < (long)m * k; i++) {
        float z = logits[i], t = targets[i];
        /* loss = max(z, 0) - z t + log(1 + exp(-|z|)) */
        total += (double)((z > 0.0f ? z : 0.0f) - z * t + log1pf(expf(-fabsf(z))));
        float p = z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
        if (probs) probs[i] = p;
        dlogits[i] = (p - t) * inv_m;
    }
    return (float)(total / m);
}

float pynn_mse(float *restrict dout, const float *restrict out, const float *restrict targets, int m, int k) {
    double total = 0.0;
    float inv_m = 1.0f / (float)m;
    for (long i = 0; i < (long)m * k; i++) {
        float e = out[i] - targets[i];
        total += (double)e * e;
        dout[i] = e * inv_m;
    }
    return (float)(0.5 * total / m);
}
