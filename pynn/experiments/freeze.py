"""The softmax freeze, reproduced: one run description trained twice with the same seed, the softmax applied once
(cross-entropy's own) and twice (double_softmax: a softmax on the output layer before cross-entropy, as
nn.Softmax before PyTorch's CrossEntropyLoss), with what tells the two apart measured for each — the loss batch
by batch, the probabilities the model answers and those the loss scores, and each layer's gradient norm."""
from __future__ import annotations

import math

import numpy as np

import pynn.run
from pynn.experiments.compare import EXTRAS, variant_config
from pynn.experiments.training import description, train
from pynn.losses import softmax
from pynn.train import BatchEnd, history_dicts

HEADS = (("once", {"double_softmax": False}), ("twice", {"double_softmax": True}))
OUTPUT_SAMPLES = 1000   # test samples whose output probabilities are summed up
GRADIENT_SAMPLES = 256  # training samples the untrained model's gradient is measured on
CURVE_POINTS = 60       # the batch losses are averaged down to this many points
TOP_CLASSES = 5         # classes listed for the example sample


def freeze_configs(base: "pynn.run.RunConfig") -> list[dict]:
    """The two runs' plain configs: base with the softmax once and twice, everything else (the seed too) shared."""
    return [variant_config(label, settings, base) for label, settings in HEADS]


def softmax_freeze(base: "pynn.run.RunConfig") -> dict:
    """Both heads trained on base's data and model with base's seed, and the bounds and explanation that go with
    the data's number of classes."""
    heads = [train_head(config) for config in freeze_configs(base)]
    k, majority = heads[0]["classes"], heads[0]["majority_share"]
    return {"model": heads[0]["spec"], "data": base.data, "seed": base.seed, "classes": k,
            "bounds": freeze_bounds(k), "heads": heads, "explanation": explanation(k, majority)}


def train_head(config: dict) -> dict:
    """Train one head from its plain config (as train_variant trains a comparison's run) and measure it."""
    start_norms: list[float] = []
    losses: list[float] = []

    def measure_untrained(model, data):
        # the untrained model's gradient: both heads start from the same weights, so this is the softmax's doing
        # alone; measured on a frozen copy, so dropout's masks and the weights stay as the training will find them
        untrained = model.frozen()
        untrained.train_step(data.x_train[:GRADIENT_SAMPLES], data.y_train[:GRADIENT_SAMPLES])
        start_norms.extend(untrained.grad_norms())

    run = description(config, EXTRAS)
    trained = train(run, on_start=measure_untrained,
                    on_event=lambda event: losses.append(event.loss) if isinstance(event, BatchEnd) else None)
    data, model, history = trained.data, trained.model, trained.history
    test = model.evaluate(data.x_test, data.y_test)
    answered = model.predict(data.x_test[:OUTPUT_SAMPLES])  # the output layer's softmax
    scored = softmax(answered.astype(np.float64)) if run.double_softmax else answered  # what cross-entropy scores
    k = data.n_outputs
    counts = np.bincount(data.y_train.ravel(), minlength=k)  # how often each class is the target
    return {"label": config["label"], "double_softmax": run.double_softmax, "spec": model.spec, "classes": k,
            "class_names": data.class_names,
            "majority_class": int(counts.argmax()), "majority_share": float(counts.max() / counts.sum()),
            "history": history_dicts(history), "loss_curve": loss_curve(losses, len(losses) / max(len(history), 1)),
            "test_accuracy": test.get("accuracy"), "test_loss": test["loss"],
            "layers": [layer.index for layer in model.param_layers],
            "start_grad_norms": start_norms, "last_grad_norms": history[-1].grad_norms if history else [],
            "measured": len(answered), "steps": answered.shape[1] if answered.ndim == 3 else None,
            "answered": probability_summary(answered),
            "scored": probability_summary(scored),
            "example": {"answered": top_classes(_first_output(answered)), "scored": top_classes(_first_output(scored))}}


def freeze_bounds(k: int) -> dict:
    """What the second softmax allows with k classes: its inputs are probabilities, so they differ by at most 1."""
    return {"uniform": 1 / k,                                  # every class alike
            "scored_largest": math.e / (math.e + k - 1),       # the most a class can get: softmax of a one-hot p
            "loss_floor": math.log(math.e + k - 1) - 1,        # -log of that: right with certainty
            "loss_uniform": math.log(k),                       # the untrained network's, about
            "majority_beats_uniform": math.log((math.e + k - 1) / k)}  # see explanation


def explanation(k: int, majority_share: float) -> str:
    """Why the softmax twice stalls learning, in numbers for k classes whose most common one is majority_share
    of the targets."""
    b = freeze_bounds(k)
    collapse = majority_share > b["majority_beats_uniform"]
    ending = (f"Here the most common class is {majority_share:.0%} of the targets, above that share: the squashed "
              "gradient first holds the outputs near uniform, then the cheapest way down is to answer that class "
              "for every input with certainty, where the first softmax saturates, its Jacobian vanishes and "
              "learning stops (a total freeze)." if collapse else
              f"Here the most common class is only {majority_share:.0%} of the targets, below that share, so the "
              "loss falls only by telling the classes apart: the network still learns that, through the squashed "
              "gradient, more slowly and less far (a partial freeze).")
    return (f"Why: the output layer's softmax turns the logits into probabilities p between 0 and 1, and "
            f"cross-entropy then takes p as logits and applies a softmax of its own. Inputs that differ by at most 1 "
            f"make a nearly flat softmax: with K = {k} classes the probabilities the loss scores never pass "
            f"e/(e+K-1) = {b['scored_largest']:.3f} (uniform is 1/K = {b['uniform']:.3f}), so the loss never falls "
            f"below ln(e+K-1) - 1 = {b['loss_floor']:.3f}, however right the network is (it starts near ln K = "
            f"{b['loss_uniform']:.3f}). Backward, the loss's gradient passes through the first softmax's Jacobian "
            f"diag(p) - p pᵀ, whose entries are about 1/K while p is near uniform and vanish as p nears one class: "
            f"the gradient of the second softmax is squashed by the first, K = {k} times or more at the start. And the "
            f"floor rewards certainty, not calibration: answering the most common class with certainty scores better "
            f"than the uniform output once that class is more than ln((e+K-1)/K) = "
            f"{b['majority_beats_uniform']:.1%} of the targets. {ending}")


def probability_summary(p: np.ndarray) -> dict:
    """Each output's largest probability (the largest of all, and the mean), and how often the commonest answer
    is given (1.0: the same class for every input)."""
    top, answers = p.max(axis=-1), p.argmax(axis=-1).ravel()
    counts = np.bincount(answers, minlength=p.shape[-1])
    return {"largest": float(top.max()), "mean_top": float(top.mean()), "common_answer": int(counts.argmax()),
            "common_share": float(counts.max() / max(len(answers), 1))}


def top_classes(p: np.ndarray, n: int = TOP_CLASSES) -> list[tuple[int, float]]:
    """The n most probable classes of one output, as (class, probability)."""
    order = np.argsort(-p, kind="stable")[:n]
    return [(int(c), float(p[c])) for c in order]


def loss_curve(losses: list[float], batches_per_epoch: float, points: int = CURVE_POINTS) -> dict:
    """The batch losses averaged over consecutive stretches, at most `points` of them, against the epoch (a
    fraction at each stretch's end), so a long run's curve stays small and its batch-to-batch noise smooth."""
    if not losses:
        return {"epoch": [], "loss": []}
    stretches = np.array_split(np.asarray(losses, np.float64), min(points, len(losses)))
    ends = np.cumsum([len(s) for s in stretches])
    return {"epoch": [float(e / batches_per_epoch) for e in ends], "loss": [float(s.mean()) for s in stretches]}


def _first_output(p: np.ndarray) -> np.ndarray:
    """The first test sample's probabilities: its last step's, for a model that answers at every step."""
    return p[0].reshape(-1, p.shape[-1])[-1]
