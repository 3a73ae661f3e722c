"""`pynn check SPEC|FILE`: the model doctor — findings about a spec or a saved model, each with why it matters
and what to do. Exits 1 when it finds a problem, so scripts can stop before training."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from pynn.errors import PynnError
from pynn.inspect.doctor import OK, PROBLEM, check_saved, check_spec
from pynn.losses import loss_name
from pynn.run import RunConfig
from pynn_tui.commands.common import add_json_arg, add_run_args, given_fields, run_config
from pynn_tui.commands.inspecting import FOREIGN_SPEC, load_model_file, model_data
from pynn_tui.output import Output

EXIT_PROBLEM = 1
MARKS = {PROBLEM: ("✗ problem", "bold red"), "warning": ("! warning", "bold yellow"), OK: ("✓ ok", "green")}


def register(sub) -> None:
    p = sub.add_parser("check", help="the model doctor: common mistakes in a spec or a saved model",
                       description="Checks the input size against the data, the output's shape against the "
                                   "targets (a label or a value per step needs an LSTM that returns every step), "
                                   "the output activation against the loss (--loss for a spec; a saved model's "
                                   "own), hidden layers and parameter counts against the data, and vanishing or "
                                   "exploding gradients (from a file's training history, or measured on a batch "
                                   "for a spec). Exits 1 if it finds a problem.")
    p.add_argument("model", metavar="SPEC|FILE")
    p.add_argument("--model", dest="model_spec", metavar="SPEC", help=FOREIGN_SPEC)
    add_run_args(p, ["data"], show_defaults=False, description="the data to check against (default: a saved "
                 "model's own, as its file describes it; digits for a spec)")
    add_run_args(p, ["model"], exclude=("model",), description="how the spec is built; a saved model is checked "
                 "as it was built, with the loss it was trained with")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    if args.model.endswith(".npz") or Path(args.model).is_file():
        model, header = load_model_file(args.model, args)
        loss = given_fields(args).get("loss")
        if loss and loss_name(loss) != model.loss.name:
            raise PynnError(f"{args.model} was trained with the {model.loss.name} loss and is checked with it; "
                            "--loss is for checking a spec.")
        data = model_data(args, model)
        subject = f"{args.model} ({model.spec})"
        findings = check_saved(model, header, data)
    else:
        config = run_config(args, RunConfig(model=args.model))
        data = config.load_data()
        subject = f"spec {args.model}"
        findings = check_spec(config.model_spec(data), data, loss=config.loss, hidden_activation=config.activation,
                              init=config.init, double_softmax=config.double_softmax)
    problems = sum(f.level == PROBLEM for f in findings)
    out.emit_json({"subject": subject, "data": data.name, "problems": problems,
                   "findings": [asdict(f) for f in findings]})
    out.show(findings_view(subject, data.name, findings))
    return EXIT_PROBLEM if problems else 0


def findings_view(subject: str, data_name: str, findings) -> Group:
    parts = [Text(f"checking {subject} against {data_name}", style="bold")]
    for f in findings:
        mark, style = MARKS.get(f.level, (f.level, ""))
        parts.append(Text.assemble((mark, style), f"  {f.topic}: {f.what}"))
        if f.why:
            parts.append(Padding(Text(f"why: {f.why}"), (0, 0, 0, 4), expand=False))
        if f.fix:
            parts.append(Padding(Text(f"do:  {f.fix}"), (0, 0, 0, 4), expand=False))
    verdict = sum(f.level == PROBLEM for f in findings)
    parts.append(Text(f"{verdict} problem(s), {sum(f.level == 'warning' for f in findings)} warning(s)"))
    return Group(*parts)
