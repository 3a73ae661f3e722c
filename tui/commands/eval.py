"""`pynn eval FILE`: a saved model's loss, accuracy and confusion matrix on a dataset's test split."""
from __future__ import annotations

import numpy as np

from pynn.words import plural
from pynn_tui.commands.common import add_json_arg
from pynn_tui.commands.inspecting import add_model_and_data_args, load_model_and_data
from pynn_tui.output import Output
from pynn_tui.render.tables import confusion_table


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a saved model on test data",
                       description="Loss, accuracy and confusion matrix of a saved model; the data defaults to "
                                   "the dataset it was trained on.")
    add_model_and_data_args(p, split=False)
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    model, _, data = load_model_and_data(args)
    result = {"model": model.spec, "data": data.name, "n_test": len(data.x_test),
              **{f"test_{k}": v for k, v in model.evaluate(data.x_test, data.y_test).items()}}
    names = model.class_names or data.class_names
    if names and data.y_test.ndim == 1:
        pred = model.predict(data.x_test).argmax(axis=1)
        k = len(names)
        matrix = np.zeros((k, k), np.int64)
        np.add.at(matrix, (data.y_test, pred), 1)
        result["confusion"] = matrix.tolist()
        result["class_names"] = names
    if args.json:
        out.emit_json(result)
        return 0
    acc = result.get("test_accuracy")
    out.line(f"{model.spec} on {data.name} ({plural(len(data.x_test), 'test sample')}): loss {result['test_loss']:.4f}"
             + (f", accuracy {100 * acc:.2f}%" if acc is not None else ""))
    if "confusion" in result:
        out.show(confusion_table(result["confusion"], names))
    return 0
