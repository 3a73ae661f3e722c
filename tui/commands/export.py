"""`pynn export FILE --to model.onnx|model.safetensors`: a model (pynn's own, or one pynn read from another
framework) written for ONNX Runtime or for PyTorch's load_state_dict."""
from __future__ import annotations

from pynn.interop import EXPORT_SUFFIXES, write_foreign
from pynn.interop.safetensors_format import torch_modules
from pynn_tui.commands.common import add_json_arg
from pynn_tui.commands.inspecting import add_model_file_arg, load_model_file
from pynn_tui.output import Output


def register(sub) -> None:
    p = sub.add_parser("export", help="write a model as ONNX or as a PyTorch state dict (safetensors)",
                       description="Write FILE's model for another framework: .onnx runs in ONNX Runtime with "
                                   "pynn's outputs; .safetensors is the state dict of the equivalent "
                                   "torch.nn.Sequential (printed), for model.load_state_dict(load_file(...)).")
    add_model_file_arg(p)
    p.add_argument("--to", required=True, metavar="OUT", help=f"the file to write ({' or '.join(EXPORT_SUFFIXES)})")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    model, _ = load_model_file(args.file, args)
    path = write_foreign(model, args.to)
    result = {"model": model.spec, "written": str(path), "format": path.suffix.lstrip(".").lower()}
    if result["format"] == "safetensors":
        result["torch_modules"] = torch_modules(model)
    out.emit_json(result)
    out.line(f"wrote {path} ({model.spec}, {model.n_params:,} parameters)")
    if "torch_modules" in result:
        out.line("load it into torch.nn.Sequential(" + ", ".join(result["torch_modules"]) + ") with "
                 "model.load_state_dict(safetensors.torch.load_file(...))")
    return 0
