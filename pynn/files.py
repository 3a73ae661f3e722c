"""Model files: an .npz of plain arrays plus a JSON header (spec, shapes, the run description that made the model,
what its data looked like, history, format version).

Loading never unpickles (allow_pickle=False), checks the header against the arrays, and turns every way a
file can be wrong into one PynnError sentence. Saving writes a temporary file beside the target and renames
it over the target only when complete, so an interrupted save leaves the previous file intact.
"""
from __future__ import annotations

import json
import os
import secrets
import zipfile
from pathlib import Path

import numpy as np

from pynn.errors import PynnError

FORMAT = "pynn-model"
# 2: the header holds the run description ("run"); 1 held the front end's "training" settings and a "data"
# record with how to load it ("load", "options"), still read.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


def save_model(model, path: str | os.PathLike, *, history: list[dict] | None = None, run=None,
               data: dict | None = None, checkpoint: tuple[dict, dict] | None = None) -> Path:
    """Write model atomically to path, with its run description (run, else the model's own, model.run), an
    optional history, a summary of its data (Dataset.describe()) and the trainer's checkpoint for resuming."""
    path = Path(path)
    run = run if run is not None else getattr(model, "run", None)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "spec": model.spec,
        "task": model.task,
        "loss": model.loss.name,
        "n_outputs": model.loss.n_outputs,
        "input_shape": list(model.input_shape),
        "init": model.init,
        "seed": model.seed,
        "class_names": model.class_names,
        "layers": [dict(layer.describe(), index=layer.index,
                        params={k: list(v.shape) for k, v in getattr(layer, "param_views", {}).items()})
                   for layer in model.layers],
        "n_params": model.n_params,
        "run": run.to_dict() if run is not None else None,
        "data": data,
        "history": history or [],
        "checkpoint": checkpoint[0] if checkpoint else None,
    }
    arrays = {"params": model.snapshot(), "header": np.frombuffer(json.dumps(header).encode(), np.uint8)}
    arrays.update({f"checkpoint_{k}": v for k, v in (checkpoint[1] if checkpoint else {}).items()})
    return write_atomically(path, lambda f: np.savez(f, **arrays))


def write_atomically(path: Path, write) -> Path:
    """Call write(f) on a new temporary file beside path, then rename it over path: an interrupted save leaves
    the previous file intact. Every model file pynn writes (its own, and exported ones) goes through here."""
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise PynnError(f"Cannot save to {path}: {err.strerror or err}.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def check_destination(path: str | os.PathLike) -> Path:
    """Raise a PynnError in words unless a model can be saved at path: its folder exists and takes new files.
    Called before training, so a run is never lost to a destination that was wrong from the start."""
    fd, tmp = _create_temporary(Path(path))
    os.close(fd)
    os.unlink(tmp)
    return Path(path)


def _create_temporary(path: Path) -> tuple[int, str]:
    """(fd, name) of a new, empty temporary file beside path, to be renamed over it once complete. It is made
    with mode 0666 like any new file, so the umask decides who may read the model (mkstemp's 0600 would not)."""
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise PynnError(f"Cannot save to {path}: it is a folder; give a file name, e.g. {path / 'model.npz'}.")
    if not directory.is_dir():
        what = (f"{directory} is a file, not a folder" if directory.exists() else
                f"the folder {directory} does not exist")
        raise PynnError(f"Cannot save to {path}: {what}.")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = str(directory / f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as err:
            raise PynnError(f"Cannot save to {path}: the folder {directory} does not take new files "
                            f"({err.strerror or err}).") from None


def read_header(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """The header and arrays of a model file, validated as far as the file alone allows."""
    path = Path(path)
    if not path.is_file():
        raise PynnError(f"No model file at {path}.")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # np.load would try anything else as a pickle
            raise PynnError(f"{path} is not a pynn model file (not an .npz archive).")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise PynnError(f"{path} holds pickled objects, which pynn never loads.") from None
        raise PynnError(f"{path} is not a readable model file ({err}).") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise PynnError(f"{path} is not a pynn model file (not a complete .npz archive: {err}).") from None
    except Exception as err:  # zlib and struct errors from a corrupted member
        raise PynnError(f"{path} is corrupted ({type(err).__name__}: {err}).") from None
    if "header" not in arrays or "params" not in arrays:
        raise PynnError(f"{path} is an .npz file but not a pynn model: it lacks the header or the parameters.")
    try:
        header = json.loads(arrays.pop("header").astype(np.uint8).tobytes().decode())
    except (ValueError, UnicodeDecodeError):
        raise PynnError(f"{path} has a damaged header (not valid JSON).") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise PynnError(f"{path} is not a pynn model file (its header does not say {FORMAT!r}).")
    version = header.get("format_version")
    if version not in READABLE_VERSIONS:
        raise PynnError(f"{path} uses model format version {version}; this pynn reads versions "
                        f"{' and '.join(map(str, READABLE_VERSIONS))}.")
    return header, arrays


def saved_run(path: str | os.PathLike, header: dict | None = None):
    """The run description of a model file (its data recipe included), without building the model: what
    made it, so it can be run again and its data loaded."""
    from pynn.interop import is_foreign

    if header is None and is_foreign(path):  # another framework's model: the description pynn reads it with
        return load_model(path)[0].run
    header = read_header(path)[0] if header is None else header
    try:
        return _run_of(header, path)
    except PynnError as err:
        raise PynnError(f"{path} has a run description pynn cannot use: {err}") from None


def _run_of(header: dict, path):
    from pynn.run import RunConfig  # at call time: a field added to the description is read back like any other

    if header.get("format_version") == 1:
        return _format1_run(header)
    values = header.get("run")
    if not isinstance(values, dict):  # a model saved without one: what the header itself says
        return RunConfig.from_dict(_model_fields(header), "its header")
    return RunConfig.from_dict(values, "its run description")


def _model_fields(header: dict) -> dict:
    """The model fields of a description from a header's own record of the model."""
    from pynn.layers import written_activation
    from pynn.run import HIDDEN_ACTIVATIONS

    hidden = {d.get("activation") for d in header.get("layers", [])[:-1] if d.get("kind") == "dense"}
    hidden = {written_activation(a) for a in hidden}
    values = {"model": header.get("spec"), "init": header.get("init", "lecun"), "seed": header.get("seed", 0),
              "loss": header.get("loss")}
    if len(hidden) == 1 and next(iter(hidden)) in HIDDEN_ACTIVATIONS:  # every hidden layer's, so the field's
        values["activation"] = next(iter(hidden))
    return values


def _format1_run(header: dict):
    """A format-1 file's description: its model as the header records it, its training settings from the
    "training" record (written by the command or the app, each with names of its own), and its data from
    the "data" record's "load" and "options" (load_dataset's keywords)."""
    from pynn.run import RunConfig, data_fields, fields_of, from_saved_training

    data_names = {f.name for f in fields_of("data")}  # the data record's, since 'training' kept only defaults
    training = {k: v for k, v in (header.get("training") or {}).items() if k not in data_names}
    values = {**from_saved_training(training).to_dict(), **_model_fields(header)}
    values["seed"] = training.get("seed", values["seed"])  # the run's (the app could change it after building)
    record = header.get("data") or {}
    values.update(data_fields({"name": record.get("load", record.get("name", "digits")),
                               "options": record.get("options")}))
    return RunConfig.from_dict(values, "its format-1 header")


def load_model(path: str | os.PathLike, *, spec: str | None = None):
    """(model, header) from a file written by save_model; model.run is the run description that made it, whose
    data_recipe() and load_data() give its data. A model file of another framework (.onnx, .keras, .h5,
    .safetensors) is read through pynn.interop, with spec for what a safetensors file cannot say; its header
    holds no history and no data, and model.origin says where it came from."""
    from pynn.interop import foreign_header, is_foreign, read_foreign
    from pynn.model import build_model, spec_of_record
    from pynn.spec import ModelSpec

    if is_foreign(path):
        model = read_foreign(path, spec=spec)
        return model, foreign_header(model)
    if spec is not None:
        raise PynnError(f"{path} is a pynn model file, which describes its own layers; a spec is for a safetensors "
                        "state dict.")
    header, arrays = read_header(path)
    try:
        # rebuilt from the explicit layer list, not by re-parsing the spec, whose input token can be implicit
        spec = ModelSpec(tuple(int(v) for v in header["input_shape"]),
                         [spec_of_record(d) for d in header["layers"]])
        model = build_model(spec, loss=header["loss"], task=header["task"], n_outputs=header["n_outputs"],
                            init=header.get("init", "lecun"), seed=header.get("seed", 0),
                            expected_params=int(arrays["params"].size),
                            double_softmax=bool((header.get("run") or {}).get("double_softmax", False)))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise PynnError(f"{path} has an incomplete header (missing {err}).") from None
    except PynnError as err:
        raise PynnError(f"{path} describes a model pynn cannot build: {err}") from None
    params = arrays["params"]
    if params.dtype != np.float32 or params.shape != model.params.shape:
        raise PynnError(f"{path} holds {params.size} parameters of type {params.dtype}, but its header describes "
                        f"a model with {model.n_params} float32 parameters.")
    model.restore(params)
    # notes speak about what a user wrote in a spec (a softmax folded into the loss); a file's layer list was
    # written by pynn, so they would tell a user about a softmax they never wrote
    model.notes = []
    model.spec = header.get("spec", model.spec)
    model.class_names = header.get("class_names")
    model.data_summary = header.get("data")
    model.run = saved_run(path, header)
    return model, header


def load_checkpoint(path: str | os.PathLike):
    """(model, header, trainer state, trainer arrays) from a file saved with a checkpoint; model.run is the
    run it continues."""
    model, header = load_model(path)
    if not header.get("checkpoint"):
        raise PynnError(f"{path} holds no training checkpoint to resume; a model saved while it trains, with its "
                        "trainer's checkpoint, holds one.")
    _, arrays = read_header(path)
    prefix = "checkpoint_"
    return model, header, header["checkpoint"], {k[len(prefix):]: v for k, v in arrays.items()
                                                 if k.startswith(prefix)}
