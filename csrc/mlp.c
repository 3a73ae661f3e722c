/* mlp.c - one whole training step of a plain dense MLP in a single call.
 *
 * Why: at 784-30-10 and batch 10 the arithmetic of a step takes tens of microseconds, less than the dozen
 * Python-level calls of the general path (gather, forward and backward per layer, loss, norms, clipping,
 * the update). The step here calls the same kernels in the same order, so it agrees with that path to
 * float32 rounding. What it changes is only how the work is glued: gradients are written rather than
 * zeroed and then added to, and one parallel pass over chunks of the flat buffers computes the gradient
 * norms, copies last_good and updates, each chunk while it is in cache.
 */
#include <math.h>
#include <string.h>
#include "pynn.h"
#include "vecmath.h"

/* A chunk's last_good copy and update share L2 (64 KiB of each buffer); large models update chunks on the
 * free cores when there are enough of them to pay for a team (each element is still updated by one thread,
 * in one way). An update reads and writes about five floats per parameter, worth some 40 flops of a multiply
 * in the team-size rule. */
#define UPDATE_CHUNK 16384
#define UPDATE_FLOPS_PER_PARAM 40.0

static int widest_layer(const struct pynn_mlp *net) {
    int widest = 1;
    for (int l = 1; l <= net->n_layers; l++) widest = net->sizes[l] > widest ? net->sizes[l] : widest;
    return widest;
}

static int64_t update_chunks(const struct pynn_mlp *net) {
    return (net->n_params + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
}

/* Layout: the gathered batch (m, sizes[0]); every layer's output, one after another; two (m, widest)
 * gradient buffers that backward ping-pongs between (the second first holds the loss's gathered labels or
 * targets, at most m * widest values). */
int64_t pynn_mlp_workspace(const struct pynn_mlp *net, int m) {
    int64_t floats = (int64_t)m * net->sizes[0];
    for (int l = 1; l <= net->n_layers; l++) floats += (int64_t)m * net->sizes[l];
    return floats + 2 * (int64_t)m * widest_layer(net);
}

/* Each update chunk's sum of squares per layer, (chunks, n_layers): doubles in a buffer of their own, since
 * read as double out of the float workspace they would depend on its alignment and pun its type. */
int64_t pynn_mlp_squares(const struct pynn_mlp *net) {
    return update_chunks(net) * net->n_layers;
}

static void gather_rows(float *restrict dst, const float *restrict src, const int64_t *restrict rows, int m,
                        int width) {
    for (int i = 0; i < m; i++)
        memcpy(dst + (int64_t)i * width, src + rows[i] * width, sizeof(float) * width);
}

static float batch_loss(const struct pynn_mlp *net, float *restrict dlogits, const float *restrict logits,
                        const int64_t *restrict rows, int m, const int32_t *restrict labels,
                        const float *restrict targets, void *restrict scratch) {
    int k = net->sizes[net->n_layers];
    if (net->loss == PYNN_LOSS_XENT) {
        int32_t *batch_labels = scratch;
        for (int i = 0; i < m; i++) batch_labels[i] = labels[rows[i]];
        return pynn_softmax_xent(dlogits, NULL, logits, batch_labels, m, k);
    }
    float *batch_targets = scratch;
    gather_rows(batch_targets, targets, rows, m, k);
    if (net->loss == PYNN_LOSS_BCE) return pynn_sigmoid_bce(dlogits, NULL, logits, batch_targets, m, k);
    return pynn_mse(dlogits, logits, batch_targets, m, k);
}

/* Sum of squares in double over 8 interleaved partial sums: a single running sum is one long chain of
 * dependent additions, which made this loop a third of a small network's step. The lanes are combined in a
 * fixed order, so the result is still deterministic. */
static double sum_squares(const float *restrict v, int64_t n) {
    double part[8] = {0.0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) part[j] += (double)v[i + j] * v[i + j];
    double sq = 0.0;
    for (; i < n; i++) sq += (double)v[i] * v[i];
    for (int j = 0; j < 8; j++) sq += part[j];
    return sq;
}

/* Sum of squares of the part of [start, start + len) that falls in [off, off + chunk). */
static double overlap_squares(const float *G, int64_t start, int64_t len, int64_t off, int64_t chunk) {
    int64_t lo = start > off ? start : off;
    int64_t hi = start + len < off + chunk ? start + len : off + chunk;
    return hi > lo ? sum_squares(G + lo, hi - lo) : 0.0;
}

/* sums[l] = squares of layer l's gradient (W and b) inside the chunk at off, so the norms come out of the
 * same parallel pass over the chunks as the update, combined afterwards in chunk order. */
static void chunk_squares(const struct pynn_mlp *net, int64_t off, double *sums) {
    for (int l = 0; l < net->n_layers; l++)
        sums[l] = overlap_squares(net->grads, net->w_offset[l], (int64_t)net->sizes[l + 1] * net->sizes[l], off,
                                  UPDATE_CHUNK)
                + overlap_squares(net->grads, net->b_offset[l], net->sizes[l + 1], off, UPDATE_CHUNK);
}

/* Backward through one dense layer like pynn_dense_backward, but writing dW and db rather than adding to
 * them, which spares zeroing the whole gradient buffer every step. dout (m, n_out) becomes dz. */
static void dense_backward_into(float *dx, float *dW, float *db, float *dout, const float *out, const float *x,
                                const float *W, int m, int n_in, int n_out, int act, float alpha) {
    pynn_activate_backward(dout, dout, out, (int64_t)m * n_out, act, alpha);
    pynn_sgemm(1, 0, n_out, n_in, m, 1.0f, dout, n_out, x, n_in, 0.0f, dW, n_in);
    memcpy(db, dout, sizeof(float) * n_out);
    for (int i = 1; i < m; i++) {
        const float *row = dout + (int64_t)i * n_out;
        for (int j = 0; j < n_out; j++) db[j] += row[j];
    }
    if (dx) pynn_sgemm(0, 0, m, n_in, n_out, 1.0f, dout, n_out, W, n_in, 0.0f, dx, n_in);
}

/* last_good = params over the chunk at off, then the optimiser's update of that same chunk. */
static void backup_and_update(const struct pynn_mlp *net, const struct pynn_optimizer *opt, float *last_good,
                              int64_t off) {
    int64_t len = net->n_params - off < UPDATE_CHUNK ? net->n_params - off : UPDATE_CHUNK;
    float *p = net->params + off;
    const float *g = net->grads + off;
    int64_t n_decay = net->n_decay - off;
    n_decay = n_decay < 0 ? 0 : n_decay > len ? len : n_decay;
    memcpy(last_good + off, p, sizeof(float) * len);
    switch (opt->kind) {
    case PYNN_OPT_SGD:
        pynn_sgd_update(p, g, len, n_decay, opt->lr, opt->decay);
        break;
    case PYNN_OPT_MOMENTUM:
        pynn_momentum_update(p, g, opt->state0 + off, len, n_decay, opt->lr, opt->mu, opt->decay);
        break;
    default:
        pynn_adam_update(p, g, opt->state0 + off, opt->state1 + off, len, n_decay, opt->lr, opt->beta1,
                         opt->beta2, opt->eps, opt->t, opt->decay);
        break;
    }
}

float pynn_mlp_train_step(const struct pynn_mlp *net, struct pynn_optimizer *opt, const float *x,
                          const int64_t *rows, int m, const int32_t *labels, const float *targets,
                          float *last_good, float *norms) {
    const int L = net->n_layers;
    const int32_t *size = net->sizes;
    const float *P = net->params;
    float *G = net->grads;
    int64_t widest = widest_layer(net);

    int64_t chunks = update_chunks(net);
    double *squares = net->squares;
    float *input = net->work;
    gather_rows(input, x, rows, m, size[0]);
    float *outputs = input + (int64_t)m * size[0];

    /* forward: layer l reads `in` (m, size[l]) and writes `out` (m, size[l + 1]) */
    const float *in = input;
    float *out = outputs;
    for (int l = 0; l < L; l++) {
        pynn_dense_forward(out, in, P + net->w_offset[l], P + net->b_offset[l], m, size[l], size[l + 1],
                           net->act[l], net->alpha[l]);
        in = out;
        out += (int64_t)m * size[l + 1];
    }
    float *dout = out, *dx = out + (int64_t)m * widest;
    void *scratch = dx;  /* the loss's gathered labels or targets; backward overwrites it afterwards */
    float loss = batch_loss(net, dout, in, rows, m, labels, targets, scratch);
    if (!(loss <= net->loss_limit)) return loss;  /* NaN, inf or exploded: the caller restores last_good */

    /* backward: dout holds the gradient wrt layer l's output and becomes wrt its pre-activation */
    const float *layer_out = out - (int64_t)m * size[L];
    for (int l = L - 1; l >= 0; l--) {
        const float *layer_in = l ? layer_out - (int64_t)m * size[l] : input;
        dense_backward_into(l ? dx : NULL, G + net->w_offset[l], G + net->b_offset[l], dout, layer_out,
                            layer_in, P + net->w_offset[l], m, size[l], size[l + 1], net->act[l], net->alpha[l]);
        float *swap = dout;
        dout = dx;
        dx = swap;
        layer_out = layer_in;
    }

    /* norms, then (when clipping) the rescale, then last_good and the update, chunk by chunk; without
     * clipping the norms ride along in the update's pass, which reads the gradient anyway */
    int64_t n = net->n_params;
    int clip = opt->clip > 0.0f;
    int team = pynn_team_size(UPDATE_FLOPS_PER_PARAM * (double)n);
    if (clip) {
        #pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
        for (int64_t c = 0; c < chunks; c++) chunk_squares(net, c * UPDATE_CHUNK, squares + c * L);
        pynn_clip_grad_norm(G, n, opt->clip);
    }
    opt->t += 1;
    #pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int64_t c = 0; c < chunks; c++) {
        if (!clip) chunk_squares(net, c * UPDATE_CHUNK, squares + c * L);
        backup_and_update(net, opt, last_good, c * UPDATE_CHUNK);
    }
    for (int l = 0; l < L; l++) {
        double sq = 0.0;
        for (int64_t c = 0; c < chunks; c++) sq += squares[c * L + l];
        norms[l] = (float)sqrt(sq);
    }
    return loss;
}
