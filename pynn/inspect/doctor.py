"""The model doctor: findings about a spec or a saved model that explain the common ways a network fails to
learn. Each finding says what was seen (with the numbers), why it matters and what to do."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pynn.data.dataset import CLASSIFICATION, Dataset
from pynn.errors import PynnError
from pynn.inspect.health import gradient_trend, unit_health
from pynn.losses import DEFAULT_FOR_TASK, loss_name
from pynn.model import DEFAULT_HIDDEN_ACTIVATION, Sequential, layer_spec, plan_model
from pynn.spec import LayerSpec, ModelSpec, parse_spec
from pynn.words import plural

PROBLEM, WARNING, OK = "problem", "warning", "ok"
# Share of a layer's sigmoid/tanh outputs in the flat tails at initialisation worth a warning.
SATURATED_AT_START = 0.5
MEASURE_SAMPLES = 256  # enough samples for stable gradient norms and activation shares, still instant


@dataclass
class Finding:
    level: str                 # problem: it will not work or cannot learn well; warning: likely to hurt; ok
    topic: str
    what: str                  # what was seen, with the numbers
    why: str = ""              # why it matters
    fix: str = ""              # what to do about it


def shape_in_words(shape) -> str:
    n = int(np.prod(shape))
    if len(shape) == 1:
        return f"vectors of {plural(n, 'feature')}"
    return f"{'x'.join(map(str, shape))} samples ({n} features once flattened)"


def check_spec(text: str, data: Dataset | None = None, *, loss: str | None = None,
               hidden_activation: str = DEFAULT_HIDDEN_ACTIVATION, init: str = "lecun",
               double_softmax: bool = False) -> list[Finding]:
    """Findings for a spec string trained with `loss` (None: the task's default), against the data when
    given (double_softmax: with the softmax applied twice, as asked); measures the untrained network on it."""
    try:
        spec = parse_spec(text)
    except PynnError as err:
        return [Finding(PROBLEM, "spec", str(err), "pynn cannot build a model it cannot read.",
                        "Write sizes joined by '-', e.g. 784-30-10 (see `pynn train --help`).")]
    loss = loss_name(loss) if loss else None
    task = data.task if data is not None else CLASSIFICATION
    try:
        model, unbuildable = plan_model(spec, data, loss=loss, hidden_activation=hidden_activation,
                                        double_softmax=double_softmax), ""
    except PynnError as err:
        model, unbuildable = None, err
    findings = [_input_finding(spec, data)] if data is not None else []
    if model is not None and data is not None:
        findings += _target_findings(model, data)
    findings += _hidden_softmax_findings(spec)
    written = spec.layers[-1].activation
    n_classes = data.n_outputs if data is not None else spec.layers[-1].units
    if model is not None:
        findings += _head_findings(written, model.layers[-1].activation, model.loss.name, task, n_classes,
                                   model.loss.double_softmax)
    else:  # the loss the model would have had: the one asked for, or the task's default
        findings += _head_findings(written, written, loss or DEFAULT_FOR_TASK[task][0], task, n_classes)
    if model is None:
        if not _has_problem(findings):
            findings.append(_unbuildable_finding(unbuildable))
        return findings
    if data is not None:
        findings += _size_findings(model, data)
        if not _has_problem(findings):
            model.build(model.input_shape, init=init)
            findings += _measured_at_start(model, data, init)
    return findings


def check_saved(model: Sequential, header: dict, data: Dataset | None = None) -> list[Finding]:
    """Findings for a saved model, with the loss it was trained with: its layers against the data, and its
    training history."""
    findings = []
    if data is not None:
        layers = [layer_spec(l) if l.kind in ("conv", "pool") else
                  LayerSpec(l.kind, getattr(l, "units", 0), None, getattr(l, "p", 0.0),
                            getattr(l, "return_sequences", False)) for l in model.layers]
        findings += [_input_finding(ModelSpec(model.input_shape, layers), data)] + _target_findings(model, data)
    findings += [_imported(f, model.origin) for f in _head_findings(
        _written_output(model.spec), model.layers[-1].activation, model.loss.name, model.task,
        data.n_outputs if data is not None else model.layers[-1].units, model.loss.double_softmax)]
    if data is not None:
        findings += _size_findings(model, data)
    dense = [layer for layer in model.layers if layer.kind == "dense"]
    trend = gradient_trend(header.get("history") or [], [layer.index for layer in model.param_layers])
    if trend is not None:
        findings.append(_gradient_finding(trend.verdict, trend.detail, "during training"))
    if data is not None and not _has_problem(findings):
        sample = data.x_train[:MEASURE_SAMPLES]
        for health in unit_health(model, sample):
            if health.dead:
                findings.append(Finding(
                    WARNING, "dead units", f"{len(health.dead)} of layer {health.layer}'s {health.units} ReLU "
                    f"units output zero on every one of {plural(len(sample), 'training sample')}.",
                    "A ReLU that never fires gets no gradient, so it never recovers: those units are wasted.",
                    "Lower the learning rate, use leaky ReLU (:leaky) or He initialisation (--init he)."))
        if trend is None and len(dense) > 1:
            findings.append(_gradient_finding(*_gradient_now(model, data), "on a batch now"))
    return findings


def _has_problem(findings: list[Finding]) -> bool:
    return any(f.level == PROBLEM for f in findings)


def _written_output(spec: str) -> str | None:
    """The output activation as the user wrote it in the spec a model was built from (None: left bare)."""
    try:
        return parse_spec(spec).layers[-1].activation
    except PynnError:  # a model assembled in code has no spec
        return None


def _target_findings(model: Sequential, data: Dataset) -> list[Finding]:
    """The model's own check of its outputs against the data's targets, as a finding."""
    mismatch = model.target_mismatch(data.y_train, n_classes=data.n_outputs if data.task == CLASSIFICATION
                                     else None)
    if mismatch is None:
        return []
    what, fix = mismatch
    return [Finding(PROBLEM, "output size", f"{what}.", "The loss pairs each output with one target (a class "
                    "label or a value); when their shapes differ it cannot, and training stops at the first batch.",
                    f"{fix[:1].upper()}{fix[1:]}.")]


def _hidden_softmax_findings(spec: ModelSpec) -> list[Finding]:
    sized = [l for l in spec.layers if l.kind != "dropout"]
    return [Finding(PROBLEM, "hidden softmax", f"Hidden layer {position} is written with a softmax.",
                    "pynn builds no hidden softmax: it applies a softmax only on the output, inside the "
                    "cross-entropy loss, and inside a network a softmax would make the layer's units compete for "
                    "a fixed total.", "Use sigmoid, tanh or relu for hidden layers.")
            for position, layer in enumerate(sized[:-1], start=1) if layer.activation == "softmax"]


def _imported(finding: Finding, origin: dict | None) -> Finding:
    """A model read from another framework has the softmax twice because its file does (a softmax output trained
    from logits), not because a pynn flag asked for it: the finding says so, and what to change there."""
    if origin is None or finding.topic != "softmax applied twice":
        return finding
    framework = origin.get("framework", "the other framework")
    return replace(finding, what=f"The softmax is applied twice in this {framework} model: its output layer applies "
                   "one and its loss, trained from logits, applies another.",
                   fix=f"In {framework}, make the output layer linear (or train with from_logits=False): the loss "
                   "brings its own softmax. Trained further with pynn train --from, the model keeps both, as its "
                   "file has them.")


def _head_findings(written_output: str | None, output_activation: str | None, loss: str, task: str,
                   n_classes: int, double_softmax: bool = False) -> list[Finding]:
    """The output activation against the loss it is trained with, the task and its number of classes."""
    findings = []
    if double_softmax:
        findings.append(Finding(PROBLEM, "softmax applied twice", "The softmax is applied twice, as asked "
                        "(--double-softmax): on the output layer, then again inside cross-entropy.",
                        f"Cross-entropy then scores probabilities of at most e/(e+{n_classes}-1) = "
                        f"{np.e / (np.e + n_classes - 1):.3f} for any class, its loss cannot fall below "
                        f"ln(e+{n_classes}-1) - 1 = {np.log(np.e + n_classes - 1) - 1:.3f}, and the first "
                        "softmax squashes the gradient, so the network learns slowly or not at all (the classic "
                        "bug). `pynn freeze` shows it beside the softmax applied once.",
                        "Leave --double-softmax out: cross-entropy brings its own softmax."))
    elif written_output == "softmax" and loss == "xent":
        findings.append(Finding(WARNING, "softmax before cross-entropy", "The output layer is written with a "
                        "softmax and the loss is cross-entropy, which computes the softmax itself.",
                        "Applied twice, the softmax flattens the outputs toward equal probabilities and shrinks "
                        "the gradients, so the network stops learning (the classic bug). pynn folds the two and "
                        "applies it once, but the spec reads as if it ran twice, and frameworks that take "
                        "logits (PyTorch's CrossEntropyLoss) would apply it twice; `pynn freeze` shows what that "
                        "does, beside the softmax applied once.",
                        "Leave the output bare (e.g. 784-30-10): cross-entropy brings its own softmax."))
    if loss == "mse" and task == CLASSIFICATION:
        findings.append(Finding(WARNING, "quadratic cost for classes", "Classes are trained with the quadratic "
                        "cost.", "With sigmoid outputs the quadratic cost's gradient carries the sigmoid's slope, "
                        "so an output that is confidently wrong learns slowest (Nielsen, chapter 3).",
                        "Use cross-entropy (leave --loss out) for class labels."))
    elif output_activation == "sigmoid" and task == CLASSIFICATION and n_classes > 2:
        findings.append(_sigmoid_multiclass(loss, n_classes))
    return findings


def _input_finding(spec: ModelSpec, data: Dataset) -> Finding:
    have = shape_in_words(data.sample_shape)
    if spec.input_shape is None:
        return Finding(OK, "input size", f"The input size comes from the data: {have}.")
    first = spec.layers[0]
    want, got = int(np.prod(spec.input_shape)), data.n_features
    flattens = first.kind in ("dense", "conv")  # a conv reads a whole sample too, as an image of its own shape
    fits = want == got if flattens else tuple(spec.input_shape)[-1:] == tuple(data.sample_shape)[-1:]
    if fits:
        return Finding(OK, "input size", f"Layer 1 expects {shape_in_words(spec.input_shape)}; the data has "
                       f"{have}.")
    why = (f"Layer 1's filters slide over a {'x'.join(map(str, spec.input_shape))} image of {want} values; the "
           f"data's samples of {got} values are another image, or none." if first.kind == "conv" else
           f"The first weight matrix W[1] has one column per input feature ({want}); it has no "
           f"place for the data's {plural(got, 'feature')}, so nothing can be computed.")
    return Finding(PROBLEM, "input size", f"Layer 1 expects {shape_in_words(spec.input_shape)}, but the data has "
                   f"{have}.", why,
                   f"Start the spec with {'x'.join(map(str, data.sample_shape))}, or leave the input size out "
                   f"(e.g. {'-'.join(l.token() for l in spec.layers)}) to take it from the data.")


def _unbuildable_finding(err: PynnError) -> Finding:
    from pynn.convolution import ImageShapeError  # loads the conv kernels only when a model could not be built

    if isinstance(err, ImageShapeError):
        return Finding(PROBLEM, "image shape", str(err), "A conv layer slides its K x K filters over the rows and "
                       "columns of an image, and a pool its windows over the maps below it: each needs an image, at "
                       "least as large as its kernel or window.")
    return Finding(PROBLEM, "build", str(err), "The model cannot be built for this data.")


def _sigmoid_multiclass(loss: str | None, n_classes: int) -> Finding:
    what = (f"The output layer is sigmoid and the data has {n_classes} classes, each sample in exactly one.")
    if loss == "bce":
        return Finding(WARNING, "sigmoid output for one-of-N classes", what,
                       f"Independent sigmoids with binary cross-entropy train {n_classes} separate yes/no "
                       "detectors: their outputs need not sum to one and nothing makes the classes compete.",
                       "Leave the output bare to get softmax + cross-entropy, the match for one label per sample.")
    return Finding(PROBLEM, "sigmoid output with cross-entropy", what,
                   "Multi-class cross-entropy reads the outputs as one probability distribution, which only a "
                   "softmax produces; sigmoids give independent values that do not sum to one.",
                   "Leave the output bare (softmax + cross-entropy), or keep the sigmoids with --loss bce "
                   "if a sample may belong to several classes.")


def _size_findings(model: Sequential, data: Dataset) -> list[Finding]:
    n_train = len(data.x_train)
    findings = []
    for layer in model.layers[:-1]:
        if getattr(layer, "units", 0) >= n_train:
            kind = "LSTM units" if layer.kind == "lstm" else "units"
            findings.append(Finding(PROBLEM, "hidden layer size", f"Hidden layer {layer.index} has {layer.units:,} "
                            f"{kind} for {n_train:,} training samples.",
                            "With a unit per sample the network can memorise every sample instead of learning "
                            "what the samples share, and will do badly on new data.",
                            "Use far fewer units; `pynn sweep --hidden 2,5,10,30,100` shows where test accuracy "
                            "stops improving."))
    # one value to fit per output unit per target: a label per step scores every output at every step
    per_sample = [*data.y_train.shape[1:]] + ([data.n_outputs] if data.task == CLASSIFICATION else [])
    targets = n_train * int(np.prod(per_sample))
    steps = "".join(f" x {plural(n, 'step')}" for n in per_sample[:-1])
    outputs = per_sample[-1] if per_sample else 1
    values = f"{plural(n_train, 'training sample')}{steps} x {plural(outputs, 'output')}"
    n_params = model.n_params   # counted as `pynn summary` counts them
    if n_params > targets:
        findings.append(Finding(WARNING, "parameters versus data", f"The model has {n_params:,} parameters for "
                        f"{values} = {targets:,} target values.",
                        "More parameters than values to fit lets the network fit noise: training accuracy "
                        "runs ahead of test accuracy.",
                        "Shrink the hidden layers, or regularise (--l2, dropout, --early-stop with --val-split) "
                        "and watch the gap between training and validation accuracy."))
    else:
        findings.append(Finding(OK, "parameters versus data", f"{n_params:,} parameters for {targets:,} target "
                        f"values ({values})."))
    return findings


def _gradient_now(model: Sequential, data: Dataset) -> tuple[str, str]:
    """(verdict, detail) from one gradient computation on a batch of training data, weights left unchanged."""
    x, y = data.x_train[:MEASURE_SAMPLES], data.y_train[:MEASURE_SAMPLES]
    with model.lock:
        model.train_step(x, y)
        norms = model.grad_norms()
        model.grads.fill(0.0)
    trend = gradient_trend([{"grad_norms": norms}], [layer.index for layer in model.param_layers])
    return trend.verdict, trend.detail


def _gradient_finding(verdict: str, detail: str, when: str) -> Finding:
    if verdict == "vanishing":
        return Finding(WARNING, "vanishing gradients", f"Gradients vanish toward the input {when}: {detail}.",
                       "The layers near the input then learn far more slowly than those near the output; deep "
                       "stacks of sigmoid or tanh layers are the usual cause (each multiplies the gradient by a "
                       "slope of at most 0.25 or 1).",
                       "Use fewer layers, relu with --init he, or an adaptive optimiser (--optimizer adam).")
    if verdict == "exploding":
        return Finding(PROBLEM, "exploding gradients", f"Gradients explode {when}: {detail}.",
                       "Huge gradients throw the weights far past any minimum; the loss jumps or becomes NaN.",
                       "Lower the learning rate, or clip the gradient norm (--clip 5).")
    return Finding(OK, "gradients", f"Gradients reach the input side {when}: {detail}.")


def _measured_at_start(model: Sequential, data: Dataset, init: str) -> list[Finding]:
    findings = []
    sample = data.x_train[:MEASURE_SAMPLES]
    for health in unit_health(model, sample):
        if health.activation not in ("sigmoid", "tanh"):
            continue
        share = float(1.0 - health.active_share.mean())
        if share >= SATURATED_AT_START:
            findings.append(Finding(WARNING, "saturated at the start", f"At initialisation {share:.0%} of layer "
                            f"{health.layer}'s {health.activation} outputs sit in the flat tails (init={init}).",
                            "Where a sigmoid is flat its slope is near zero, so the weights into those units "
                            "barely move and learning starts slowly.",
                            "Scale the initial weights by 1/sqrt(n_in) (--init lecun, the default) or "
                            "standardise the inputs (--standardize)."))
    if len([l for l in model.layers if l.kind == "dense"]) > 1:
        findings.append(_gradient_finding(*_gradient_now(model, data), "at initialisation"))
    return findings
