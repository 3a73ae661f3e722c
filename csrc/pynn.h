/* pynn.h - the whole public C API of pynn's core, single precision.
 *
 * This header is also the cffi cdef (pynn/_build.py strips the preprocessor lines and `restrict`), so it
 * holds only declarations cffi can parse. Conventions for every function:
 *   - matrices are row-major and contiguous; a batch is (m, n): m samples of n features;
 *   - a dense weight W is (n_out, n_in), the W[l] = (n_l, n_{l-1}) of the textbooks; a bias b is (n_out);
 *   - the functions trust their arguments: shapes, dtypes and lifetimes are checked once, in pynn/core.py;
 *   - gradient outputs named d* are overwritten unless the comment says "accumulates".
 */
#ifndef PYNN_H
#define PYNN_H

#include <stdint.h>

/* Activation codes, shared by the dense and LSTM kernels. */
enum pynn_activation {
    PYNN_IDENTITY = 0,
    PYNN_SIGMOID = 1,
    PYNN_TANH = 2,
    PYNN_RELU = 3,
    PYNN_LEAKY_RELU = 4
};

/* ---------------------------------------------------------------------------------------------------- */
/* matrix multiply */

/* C = alpha * op(A) op(B) + beta * C. op(A) is (M, K), op(B) is (K, N), C is (M, N) with row stride ldc.
 * trans_a != 0 means A is stored (K, M) with row stride lda; likewise trans_b means B is stored (N, K). */
void pynn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                const float *restrict A, int lda, const float *restrict B, int ldb,
                float beta, float *restrict C, int ldc);

/* The plain triple loop with the same contract: the yardstick the blocked version is tested against. */
void pynn_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha,
                      const float *restrict A, int lda, const float *restrict B, int ldb,
                      float beta, float *restrict C, int ldc);

/* The multiply with op(B) packed once for many products by the same matrix (an LSTM's Wh at every step).
 * pynn_sgemm_packed_size(N, K) floats hold op(B) (K, N) packed by pynn_sgemm_pack_b (trans_b as in
 * pynn_sgemm); pynn_sgemm_packed then computes C = alpha * op(A) op(B) + beta * C like pynn_sgemm's blocked
 * path, element for element. */
int64_t pynn_sgemm_packed_size(int N, int K);
void pynn_sgemm_pack_b(int trans_b, int N, int K, const float *restrict B, int ldb, float *restrict Bp);
void pynn_sgemm_packed(int trans_a, int M, int N, int K, float alpha, const float *restrict A, int lda,
                       const float *restrict Bp, float beta, float *restrict C, int ldc);

/* The instruction set this build of the core was compiled for ("generic", "avx2" or "avx512"), and whether the
 * processor (and its operating system) runs the build for `isa`: pynn.core loads the portable build, asks,
 * then loads the widest build that runs (or the one PYNN_ISA names). */
const char *pynn_build_isa(void);
int pynn_cpu_runs(const char *isa);

/* The benchmark's own peak: `threads` threads each run `rounds` rounds of independent fused multiply-adds on
 * this build's widest vectors, nothing read from memory; returns the floating-point operations done (2 per
 * lane per multiply-add), so flops / seconds is the core's float32 peak at this ISA. */
double pynn_fma_peak(int64_t rounds, int threads);

/* ---------------------------------------------------------------------------------------------------- */
/* activations */

/* y = f(x) elementwise over n values; alpha is the leaky-ReLU slope. x and y may be the same buffer. */
void pynn_activate(float *y, const float *x, int64_t n, int act, float alpha);

/* dx = dy * f'(.) where the derivative is computed from the activation's output y (every supported f allows
 * it). dx and dy may be the same buffer. */
void pynn_activate_backward(float *dx, const float *dy, const float *y, int64_t n, int act, float alpha);

/* ---------------------------------------------------------------------------------------------------- */
/* dense layer */

/* out = f(x W^T + b). x is (m, n_in), W is (n_out, n_in), b is (n_out), out is (m, n_out). */
void pynn_dense_forward(float *restrict out, const float *restrict x, const float *restrict W,
                        const float *restrict b, int m, int n_in, int n_out, int act, float alpha);

/* Backward through f and the affine map. dout is (m, n_out), the gradient of the loss wrt out, and is
 * overwritten with the gradient wrt the pre-activation. out is the forward output, x the forward input.
 * dW (n_out, n_in) and db (n_out) accumulate; dx (m, n_in) is overwritten, and skipped when NULL. */
void pynn_dense_backward(float *restrict dx, float *restrict dW, float *restrict db, float *restrict dout,
                         const float *restrict out, const float *restrict x, const float *restrict W,
                         int m, int n_in, int n_out, int act, float alpha);

/* ---------------------------------------------------------------------------------------------------- */
/* losses: each returns the mean loss over the m samples and writes d (m, k), the gradient of that mean
 * wrt its input, so the 1/m of the batch mean is already in it. */

/* Softmax + cross-entropy fused and shifted by the row max, so logits of +-1000 stay finite. logits is
 * (m, k), labels holds m class indices in [0, k). probs (m, k) receives the softmax, or is skipped if NULL. */
float pynn_softmax_xent(float *restrict dlogits, float *restrict probs, const float *restrict logits,
                        const int32_t *restrict labels, int m, int k);

/* Sigmoid + binary cross-entropy fused, computed from logits with log1p(exp(-|z|)) so it never overflows.
 * targets (m, k) hold values in [0, 1]; the loss is summed over k and averaged over m. */
float pynn_sigmoid_bce(float *restrict dlogits, float *restrict probs, const float *restrict logits,
                       const float *restrict targets, int m, int k);

/* Quadratic cost 1/(2m) sum ||out - target||^2 (Nielsen's convention); dout = (out - target) / m. */
float pynn_mse(float *restrict dout, const float *restrict out, const float *restrict targets, int m, int k);

/* ---------------------------------------------------------------------------------------------------- */
/* regularisation and optimisers over flat parameter buffers of n values. The first n_decay values are the
 * weights that L2 applies to (biases are laid out after them and are not decayed): the gradient used is
 * g + decay * p for those. */

void pynn_sgd_update(float *restrict p, const float *restrict g, int64_t n, int64_t n_decay,
                     float lr, float decay);

/* Classical momentum: v = mu * v - lr * g; p += v. */
void pynn_momentum_update(float *restrict p, const float *restrict g, float *restrict v, int64_t n,
                          int64_t n_decay, float lr, float mu, float decay);

/* Adam with bias correction; t is the 1-based step count. */
void pynn_adam_update(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                      int64_t n, int64_t n_decay, float lr, float beta1, float beta2, float eps, int64_t t,
                      float decay);

/* Scale g in place so its L2 norm is at most max_norm (when max_norm > 0); returns the norm before. */
float pynn_clip_grad_norm(float *g, int64_t n, float max_norm);

/* out = x * mask * scale over n values, mask holding 0 or 1: inverted dropout, forward and backward alike. */
void pynn_dropout(float *restrict out, const float *restrict x, const uint8_t *restrict mask, int64_t n,
                  float scale);

/* ---------------------------------------------------------------------------------------------------- */
/* fused training step for plain dense MLPs (mlp.c): the whole step in one call, so small batches do not pay
 * a dozen Python-level calls per step. It strings together the kernels above in the order the general path
 * calls them, so the two agree to float32 rounding. */

enum pynn_loss_kind {
    PYNN_LOSS_XENT = 0,   /* softmax + cross-entropy on class labels */
    PYNN_LOSS_BCE = 1,    /* sigmoid + binary cross-entropy on float targets */
    PYNN_LOSS_MSE = 2     /* quadratic cost on float targets */
};

enum pynn_optimizer_kind {
    PYNN_OPT_SGD = 0,
    PYNN_OPT_MOMENTUM = 1,
    PYNN_OPT_ADAM = 2
};

/* A chain of n_layers dense layers: sizes[0] inputs, layer l maps sizes[l] -> sizes[l + 1] with activation
 * act[l] (leaky slope alpha[l]); its W (sizes[l + 1], sizes[l]) and b (sizes[l + 1]) start at w_offset[l]
 * and b_offset[l] of the flat params and grads buffers (n_params values, the first n_decay decayed by L2).
 * work holds pynn_mlp_workspace(net, m) floats for batches of up to m samples, squares pynn_mlp_squares(net)
 * doubles (each layer's gradient sum of squares per chunk of the update, summed in a fixed order). */
struct pynn_mlp {
    int n_layers;
    const int32_t *sizes;
    const int32_t *act;
    const float *alpha;
    const int64_t *w_offset;
    const int64_t *b_offset;
    int loss;
    float *params;
    float *grads;
    int64_t n_params;
    int64_t n_decay;
    float *work;
    double *squares;
    float loss_limit;  /* a batch loss above this (or NaN) stops the step untouched; INFINITY: only NaN/inf */
};

/* The optimiser of pynn_*_update: state0 is momentum's v or Adam's m, state1 Adam's v (NULL when unused);
 * t counts the updates taken and is incremented by each one; clip > 0 caps the global gradient norm. */
struct pynn_optimizer {
    int kind;
    float lr, mu, beta1, beta2, eps, decay, clip;
    int64_t t;
    float *state0;
    float *state1;
};

/* Floats of workspace a step on batches of up to m samples needs, and doubles of squares any step needs. */
int64_t pynn_mlp_workspace(const struct pynn_mlp *net, int m);
int64_t pynn_mlp_squares(const struct pynn_mlp *net);

/* One training step on m samples: rows[i] picks sample i from x (n, sizes[0]) and its label (labels, for
 * XENT) or target row (targets (n, k), otherwise). Forward, loss, backward (grads overwritten), norms[l] =
 * the L2 norm of layer l's gradient, clipping, last_good = params, one optimiser update. Returns the mean
 * loss; a non-finite loss, or one above net->loss_limit, is returned at once, before grads, params,
 * last_good and the optimiser are touched. */
float pynn_mlp_train_step(const struct pynn_mlp *net, struct pynn_optimizer *opt, const float *x,
                          const int64_t *rows, int m, const int32_t *labels, const float *targets,
                          float *last_good, float *norms);

/* ---------------------------------------------------------------------------------------------------- */
/* LSTM over a whole sequence. x is (B, T, n_in), Wx (4U, n_in), Wh (4U, U), b (4U); the 4U gate rows are the
 * blocks [i, f, g, o] (input, forget, candidate, output). The state starts from h0 and c0 (B, U), or from zero
 * where they are NULL: a stateful run hands each window the state its stream's previous window ended in, the
 * last step of that window's h and c. Backward treats h0 and c0 as constants (truncated backpropagation through
 * time), so it needs them only for the first step and returns no gradient for them.
 * Forward writes every step's hidden state h (B, T, U), cell state c (B, T, U) and the gates after their
 * nonlinearities (B, T, 4U): sigmoid for i, f, o and tanh for g. The library shows these and backward uses
 * them, so nothing is recomputed. work is scratch of pynn_lstm_workspace(B, T, n_in, U) floats, which the
 * caller provides so the kernels allocate nothing (forward and backward may share it). */
int64_t pynn_lstm_workspace(int B, int T, int n_in, int U);

void pynn_lstm_forward(float *restrict h, float *restrict c, float *restrict gates, const float *restrict x,
                       const float *restrict h0, const float *restrict c0, const float *restrict Wx,
                       const float *restrict Wh, const float *restrict b, int B, int T, int n_in, int U,
                       float *restrict work);

/* Backward through time. dh (B, T, U) is the loss gradient wrt every h (zero at steps whose output is not
 * used); h0 and c0 are forward's (NULL: zero). dWx, dWh, db accumulate; dx (B, T, n_in) is overwritten, or
 * skipped when NULL. dgates (B, T, 4U) and work (pynn_lstm_workspace floats) are scratch the caller provides. */
void pynn_lstm_backward(float *restrict dx, float *restrict dWx, float *restrict dWh, float *restrict db,
                        float *restrict dgates, float *restrict work, const float *restrict dh,
                        const float *restrict x, const float *restrict h0, const float *restrict c0,
                        const float *restrict h, const float *restrict c, const float *restrict gates,
                        const float *restrict Wx, const float *restrict Wh, int B, int T, int n_in, int U);

/* ---------------------------------------------------------------------------------------------------- */
/* convolution and max pooling (conv.c). Activations are (N, H, W, C), channels last; a conv kernel w is
 * (K, K, C, F) (Keras's HWIO) and its bias b (F). The input is read as if padded with pad_top rows above and
 * pad_left columns on the left (and zeros below and to the right as far as the output needs); the output is
 * (N, Ho, Wo, F) with y[n, i, j, f] = act(b[f] + sum over kh, kw, c of xpad[n, i*stride + kh, j*stride + kw, c]
 * w[kh, kw, c, f]). Each call allocates its scratch once, and returns 0, or -1 when that allocation failed
 * (then nothing was computed). */

int pynn_conv2d_forward(float *restrict y, const float *restrict x, const float *restrict w,
                         const float *restrict b, int N, int H, int W, int C, int K, int F, int stride,
                         int pad_top, int pad_left, int Ho, int Wo, int act, float alpha);

/* Backward through act and the convolution. dy (N, Ho, Wo, F), the gradient wrt y, is overwritten with the
 * gradient wrt the pre-activation; y is forward's output and x its input. dw (K, K, C, F) and db (F)
 * accumulate; dx (N, H, W, C) is overwritten, and skipped when NULL. */
int pynn_conv2d_backward(float *restrict dx, float *restrict dw, float *restrict db, float *restrict dy,
                         const float *restrict y, const float *restrict x, const float *restrict w,
                         int N, int H, int W, int C, int K, int F, int stride, int pad_top, int pad_left,
                         int Ho, int Wo, int act, float alpha);

/* P x P max pooling, stride P; trailing rows and columns that fill no window are dropped: y and argmax are
 * (N, H / P, W / P, C). argmax holds where in its window each maximum was, a * P + q for window row a and
 * column q, the first in row-major order on a tie (a NaN wins, so it reaches the loss). */
void pynn_maxpool_forward(float *restrict y, int32_t *restrict argmax, const float *restrict x, int N, int H,
                          int W, int C, int P);

/* dx (N, H, W, C) = each dy at its window's argmax, zero elsewhere (overwritten). */
void pynn_maxpool_backward(float *restrict dx, const float *restrict dy, const int32_t *restrict argmax,
                           int N, int H, int W, int C, int P);

#endif
