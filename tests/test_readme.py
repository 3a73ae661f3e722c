"""Every command and Python snippet in README.md runs as the README gives it.

What counts as an example is read from README.md itself (read_readme):
- ```python blocks: all of them run in order in one fresh interpreter in an empty folder, as a reader pasting
  them into one session would. ```text blocks are program output and do not run; a ```toml block is a file the
  commands read, named by its first line (`# run.toml`), written into the commands' folder; any other fence
  fails.
- every line of an indented code block (`# comments` dropped, `\\` continuations joined, `a && b` split in two);
- the first-column code of every row of the tables of commands, specs and data sets (a row without code: its
  text). Every other table is listed in OTHER_TABLES with what covers it; a new kind of table fails;
- inline code, in prose or in other table cells, that starts a command (`pynn `, `python `, `pip `, `dask `,
  `apt-get `, after any `VAR=value `) or is a Python call (`name(...)`).

EXAMPLES says how each example runs, keyed by its README text: an example new to the README without an entry
fails, and so does an entry whose example left it.
- Run: a subprocess of the installed `pynn` (or this python, or dask) expected to exit with `status` (0, or
  the exit code the README gives) and, where its status says too little, to print `expect`. A table row's
  placeholders are filled in by `command`, which may use only the options the row shows, and the row's runs
  together use every one of them. Every other change to a README command is written out in `changes` (old,
  new) or `add`: these are the only shortenings (fewer epochs, a data --limit, fewer sweep sizes, one bench
  workload); nothing is skipped silently. With `pty`, the app runs on a real pseudo-terminal until that text
  is drawn, then gets q.
- Call: a Python call from the prose, evaluated verbatim once `setup` has bound its free names; `check` then
  looks at `result`.
- Mention: prose naming a command whose runnable example is another README example.
- Elsewhere: covered outside this file, by CI's own .ci/run or another test; `where` must contain `evidence`.
  `pip install` lines are CI's: .ci/run installs the checkout with its test extra into a fresh venv.

Commands share one scratch folder whose models come from real short trainings (fixture `models`); a command
that two examples instantiate the same way runs once. Dask: fixture `cluster` starts the README's own
`dask scheduler` and `dask worker` (on a free port of 127.0.0.1, one worker process); the README's cluster
sweep, the table's sweep --cluster and compare --cluster, and DaskExecutor(address) run on them. What a cluster
does with failing runs is tests/test_cluster.py's. The benchmark scripts run with their quickest options on
their quickest workloads: their numbers are measurements, not tests.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent  # the environment pynn is installed in
PATIENCE_S = 600                   # a guard against a hang, not a speed bound


# -- reading the README -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    text: str    # as the README shows it (a table's escaped \| read as |)
    where: str   # "line N, ...", for messages
    kind: str    # "block", "command row", "spec row", "data row", "inline" or "call"
    code: bool = True  # False for a table row whose first column is words, not code


RUN_TABLES = {"command": "command row", "spec": "spec row", "name": "data row"}
COMMAND_SPAN = re.compile(r"(?:[A-Z_]+=\S+ )*(?:pynn|python|pip|dask|apt-get) ")
CALL_SPAN = re.compile(r"[A-Za-z_][\w.]*\(.*\)")


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def cells(row: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def read_readme(text: str) -> tuple[list[Example], list[tuple[int, str]], list[tuple[int, str]], list[str]]:
    """(examples, python blocks, table headers, fences that are neither python nor text), each with its line."""
    lines = text.split("\n")
    examples, python, headers, fences = [], [], [], []
    paragraph: list[tuple[int, str]] = []

    def inline(number: int, text: str) -> None:
        for span in code_spans(text):
            if COMMAND_SPAN.match(span):
                examples.append(Example(span, f"line {number}, inline", "inline"))
            elif CALL_SPAN.fullmatch(span):
                examples.append(Example(span, f"line {number}, inline", "call"))

    def end_paragraph() -> None:
        if paragraph:  # joined, since a code span may break across lines
            inline(paragraph[0][0], " ".join(line for _, line in paragraph))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end_paragraph()
            end = lines.index("```", i + 1)
            if line[3:] == "python":
                python.append((i + 1, "\n".join(lines[i + 1:end])))
            elif line[3:] not in ("text", "toml"):
                fences.append(f"line {i + 1}: {line}")
            i = end + 1
        elif line.startswith("    ") and not paragraph:
            commands: list[tuple[int, str]] = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                code = re.sub(r"\s+#\s.*$", "", lines[i]).strip()
                if commands and commands[-1][1].endswith("\\"):
                    commands[-1] = (commands[-1][0], commands[-1][1][:-1].rstrip() + " " + code)
                elif code:
                    commands.append((i + 1, code))
                i += 1
            for number, code in commands:
                examples += [Example(part.strip(), f"line {number}, code block", "block")
                             for part in code.split(" && ")]
        elif line.startswith("|"):
            end_paragraph()
            header = cells(line)[0]
            headers.append((i + 1, header))
            i += 2  # the header and its |---| line
            while i < len(lines) and lines[i].startswith("|"):
                first, *rest = cells(lines[i])
                if header in RUN_TABLES:
                    where, kind = f"line {i + 1}, table of {header}s", RUN_TABLES[header]
                    examples += ([Example(text, where, kind) for text in code_spans(first)]
                                 or [Example(first, where, kind, code=False)])
                else:
                    inline(i + 1, first)
                inline(i + 1, " | ".join(rest))
                i += 1
        elif not line.strip():
            end_paragraph()
            i += 1
        else:
            paragraph.append((i + 1, line))
            i += 1
    end_paragraph()
    return examples, python, headers, fences


EXAMPLES_FOUND, PYTHON_BLOCKS, TABLE_HEADERS, OTHER_FENCES = read_readme(README.read_text())
TOML_FILES = re.findall(r"^```toml\n# (\S+)\n(.*?)^```$", README.read_text(), re.S | re.M)
FIRST = {}  # each example once, where it first appears
for _example in EXAMPLES_FOUND:
    FIRST.setdefault(_example.text, _example)


# -- how each example runs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    command: str | None = None                # a row's placeholders filled in; None: the README text itself
    changes: tuple[tuple[str, str], ...] = ()  # (README text, what runs instead), each visible here
    add: str = ""                              # options appended to shorten a run
    status: int = 0
    expect: str = ""                           # text the output must hold, where the status alone says too little
    pty: str | None = None                     # run on a pseudo-terminal until this is drawn, then press q
    checkout: bool = False                     # run from the checkout, as the README runs the bench scripts
    env: tuple[tuple[str, str], ...] = ()
    server: bool = False                       # started (and stopped) by the cluster fixture

    def line(self, readme_text: str) -> str:
        text = self.command or readme_text
        for old, new in self.changes:
            assert old in text, f"the change {old!r} -> {new!r} finds no {old!r} in {text!r}"
            text = text.replace(old, new)
        return f"{text} {self.add}".strip()


@dataclass(frozen=True)
class Call:
    setup: str
    check: str


@dataclass(frozen=True)
class Mention:
    example: str


@dataclass(frozen=True)
class Elsewhere:
    where: str
    evidence: str
    why: str


INTEROP = ROOT / "tests" / "fixtures" / "interop"
MAKE_FIXTURES = "tests/fixtures/interop/make_fixtures.py"
SAVED_MODEL = "import pynn\nmodel = pynn.load('digits.npz')\ndata = model.run.load_data()\nevaluate = model.evaluate"
CI = "the CI's .ci/run installs the checkout with its test extra into a fresh venv, then runs pytest"
XOR = "--data xor --model 2-8:tanh-2"
SWEEP_GRID = "--hidden 2,3 --seeds 2 --init lecun,normal --l2 0,1 --lr 0.1,0.5 --epochs 1"
SHORT_SWEEP = (("--hidden 2,3,4,5,10,30,100", "--hidden 2,3"), ("--seeds 5", "--seeds 1"))
ON_THE_CLUSTER = ("tcp://HOST:8786", "{scheduler}")

EXAMPLES = {
    # the first screen
    "pip install .": Elsewhere(".ci/run", "pip install --quiet '.[test]'", CI),
    "pip install '.[test]'": Elsewhere(".ci/run", "pip install --quiet '.[test]'", CI),
    "pytest": Elsewhere(".ci/run", "\npytest", CI),
    "pynn train": Run(),
    # the command table
    "pynn": Run(pty="784-30-10"),
    "pynn tui [--data D] [--model SPEC | --load FILE] [--screen NAME]": (
        Run(f"pynn tui {XOR}", pty="2-8:tanh-2"), Run("pynn tui --load digits.npz --screen train", pty="784-30-10")),
    "pynn train [--config FILE] [--data D] [--model SPEC] [--epochs N] [--batch B] [--lr X] [--optimizer sgd|momentum|adam] "
    "[--init normal|lecun|xavier|he] [--l2 X] [--loss xent|bce|mse] [--clip X] [--val-split F] [--early-stop N] "
    "[--seed S] [--save FILE] [--checkpoint-every N] [--json]":
        (Run("pynn train --config run.toml --epochs 1"),
         Run(f"pynn train {XOR} --epochs 3 --batch 8 --lr 0.05 --optimizer momentum --init xavier --l2 0.1 "
            "--loss xent --clip 5 --val-split 0.25 --early-stop 2 --seed 1 --save trained.npz --checkpoint-every 1 "
             "--json")),
    "pynn train --resume FILE [--epochs N] [--save FILE]": Run("pynn train --resume resume.npz --epochs 2 "
                                                              "--save resumed.npz"),
    "pynn eval FILE [--data D] [--json]": Run("pynn eval digits.npz --data digits --json"),
    "pynn summary SPEC|FILE [--data D] [--json]": (
        Run("pynn summary 784-30-10 --data digits --json"), Run("pynn summary digits.npz")),
    "pynn data list": Run(),
    "pynn data info NAME [--target COL] [--lookback N] [--horizon H] [--difference]": (
        Run("pynn data info digits"),
        Run("pynn data info series.csv --target passengers --lookback 12 --horizon 2 --difference")),
    "pynn data fetch NAME": Elsewhere(
        "tests/test_data.py", "def test_fetch_checks_md5_and_keeps_nothing_wrong",
        "it downloads from the internet, which tests do not reach; a local mirror stands in there"),
    "pynn weights FILE [--layer L] [--neurons 0-9] [--cols C] [--scale shared|each]":
        Run("pynn weights digits.npz --layer 1 --neurons 0-9 --cols 5 --scale each"),
    "pynn explain FILE --class C [--top 3]": Run("pynn explain digits.npz --class 7 --top 3"),
    "pynn probe FILE --index N [--misclassified] [--count K] [--why]":
        Run("pynn probe digits.npz --index 3 --misclassified --count 2 --why"),
    "pynn triggers FILE --unit U [--layer L] [--top 5]": Run("pynn triggers digits.npz --unit 4 --layer 1 --top 5"),
    "pynn health FILE [--layer L] [--filmstrip NEURON]": Run("pynn health digits.npz --layer 1 --filmstrip 3"),
    "pynn ablate FILE [--layer L] [--units LIST] [--together]":
        Run("pynn ablate digits.npz --layer 1 --units 0,1,2 --together"),
    "pynn sweep [--data D] --hidden 2,3,4,5,10,30,100 [--seeds 3] [--init A,B] [--l2 X,Y] [--lr R,S] [--epochs N] "
    "[--jobs J | --cluster tcp://HOST:8786] [--out FILE [--resume]]": (
        Run(f"pynn sweep --data xor {SWEEP_GRID} --jobs 2 --out sweep.jsonl"),
        Run(f"pynn sweep --data xor {SWEEP_GRID} --cluster {{scheduler}} --out sweep.jsonl --resume")),
    'pynn compare [--data D] --model SPEC --a "init=normal" --b "init=lecun,l2=5" [--cluster ADDR]':
        Run(f'pynn compare {XOR} --a "init=normal" --b "init=lecun,l2=5" --cluster {{scheduler}}'),
    "pynn freeze [--data D] [--model SPEC] [--optimizer O] [--epochs N]":
        Run("pynn freeze --data digits --model 784-10-10 --optimizer sgd --epochs 1", expect="twice"),
    "pynn sample FILE [--length N] [--temperature T] [--prime TEXT]":
        Run('pynn sample chars.npz --length 40 --temperature 0.5 --prime "ROMEO:"'),
    "pynn predict FILE [--index N]": Run("pynn predict sine.npz --index 3"),
    "pynn surface FILE [--layer L] [--neurons LIST] [--resolution N] [--replay K] [--json]":
        Run("pynn surface xor.npz --layer 1 --neurons 0-3 --resolution 16 --replay 2 --json"),
    "pynn export FILE --to OUT": Run("pynn export digits.npz --to exported.onnx"),
    "pynn serve [--host H] [--port P] [--public]": Elsewhere(
        "tests/test_serve.py", "def test_a_non_loopback_host_is_refused_without_public",
        "a server runs until stopped: tests/test_serve.py starts it on a free loopback port, drives it from headless "
        "Chromium, and checks --host, --port and --public"),
    "pynn check SPEC|FILE [--data D] [--loss L]": (
        Run("pynn check 784-30-10 --data digits"), Run("pynn check digits.npz"),
        Run("pynn check 784-30-10:sigmoid --data digits", status=1),  # a problem
        Run("pynn check 784-30:sigmoid-10:sigmoid --data digits --loss mse")),  # Nielsen's network: no problem
    # the spec table, each on the data it is written for
    "784-30-10": Run("pynn train --model 784-30-10 --epochs 1 --limit 1000"),
    "30-10": Run("pynn train --model 30-10 --epochs 1 --limit 1000"),
    "784-100:relu-10": Run("pynn train --model 784-100:relu-10 --epochs 1 --limit 1000"),
    "784-100:relu-drop0.5-10": Run("pynn train --model 784-100:relu-drop0.5-10 --epochs 1 --limit 1000"),
    "28x28-30-10": Run("pynn train --model 28x28-30-10 --epochs 1 --limit 1000"),
    "20x1-lstm300-20": Run("pynn train --data sine --lookback 20 --horizon 20 --model 20x1-lstm300-20 "
                           "--optimizer adam --lr 0.01 --epochs 1 --limit 200"),
    # the classes are the characters of the default --limit: a shorter text has fewer, so no --limit here
    "lstm128*-62": Run("pynn summary lstm128*-62 --data shakespeare"),
    "28x28-conv8k5-pool2-30-10": Run("pynn train --model 28x28-conv8k5-pool2-30-10 --epochs 1 --limit 1000"),
    "28x28-lstm128*-lstm64-10": Run("pynn train --model 28x28-lstm128*-lstm64-10 --as-sequence --epochs 1 "
                                    "--limit 100"),
    "pynn train --model 784-30:sigmoid-10:sigmoid --loss mse --init normal --optimizer sgd --batch 10 --lr 3 "
    "--epochs 30": Run(changes=(("--epochs 30", "--epochs 1"),)),
    # the data table
    "digits": Run("pynn data info digits"),
    "mnist": Run("pynn data info mnist", env=(("PYNN_DATA", "{idx}"),)),
    "fashion-mnist": Run("pynn data info fashion-mnist", env=(("PYNN_DATA", "{idx}"),)),
    "apt-get install dataset-fashion-mnist": Elsewhere(
        ".ci/run", "apt-get install -y -qq dataset-fashion-mnist",
        "CI installs it; tests/test_data.py::test_fashion_mnist_from_debian reads it"),
    "pynn data fetch mnist": Mention("pynn data fetch NAME"),
    "xor": Run("pynn data info xor"),
    "spiral": Run("pynn data info spiral"),
    "circles": Run("pynn data info circles"),
    "moons": Run("pynn data info moons"),
    "plane": Run("pynn data info plane"),
    "bump": Run("pynn data info bump"),
    "spiral3": Run("pynn data info spiral3"),
    "sine": Run("pynn train --data sine --lookback 10 --horizon 3 --epochs 1"),
    "shakespeare": Run("pynn train --data shakespeare --lookback 8 --limit 1000 --epochs 1"),
    "a path": (Run("pynn train --data points.npz --epochs 1"),
               Run("pynn train --data images.npz --labels labels.npz --epochs 1")),
    "file.csv [--target COL] [--lookback N] [--horizon H] [--difference]":
        Run("pynn train --data series.csv --target passengers --lookback 12 --horizon 2 --difference "
            "--model lstm8-2 --epochs 1"),
    "pynn train --as-sequence": Run(add="--epochs 1 --limit 300"),
    # seeing it happen
    "pynn freeze --epochs 3": Run(changes=(("--epochs 3", "--epochs 1"),), add="--limit 1000"),
    "pynn freeze --epochs 3 --optimizer adam": Run(changes=(("--epochs 3", "--epochs 1"),), add="--limit 1000"),
    "pynn freeze --data shakespeare --optimizer adam --epochs 3":
        Run(changes=(("--epochs 3", "--epochs 1"),), add="--limit 3000 --lookback 16"),
    "pynn sweep --model 784-25-15-10,784-100-10,28x28-lstm32-10 --seeds 3 --epochs 5 --jobs 2":
        Run(changes=(("--seeds 3", "--seeds 1"), ("--epochs 5", "--epochs 1")), add="--limit 500"),
    "pynn sweep --model '784-{h}-{h2}-10' --h 10,25,100 --h2 5,15 --seeds 2 --epochs 3 --jobs 2":
        Run(changes=(("--h 10,25,100", "--h 10,25"), ("--seeds 2", "--seeds 1"), ("--epochs 3", "--epochs 1")),
            add="--limit 500"),
    "pynn compare --a model=784-25-15-10 --b model=784-100-10 --epochs 5":
        Run(changes=(("--epochs 5", "--epochs 1"),), add="--limit 500"),
    "pynn compare --a model=784-100-10 --b model=28x28-lstm32-10 --epochs 5":
        Run(changes=(("--epochs 5", "--epochs 1"),), add="--limit 500"),
    "pynn probe --misclassified": Mention("pynn probe digits.npz --misclassified"),
    "pynn probe digits.npz --misclassified": Run(expect="saliency"),
    "pynn probe digits.npz --index 3 --why": Run(expect="saliency"),
    "pynn freeze": Mention("pynn freeze [--data D] [--model SPEC] [--optimizer O] [--epochs N]"),
    "pynn compare": Mention('pynn compare [--data D] --model SPEC --a "init=normal" --b "init=lecun,l2=5" [--cluster ADDR]'),
    # the first 3,000 characters hold those of the sample's "ROMEO:"
    "pynn train --data shakespeare --optimizer adam --lr 0.01 --batch 32 --epochs 6 --save plain.npz":
        Run(changes=(("--epochs 6", "--epochs 1"),), add="--limit 3000 --lookback 16"),
    "pynn train --data shakespeare --optimizer adam --lr 0.01 --batch 32 --epochs 6 --stateful --save carried.npz":
        Run(changes=(("--epochs 6", "--epochs 1"),), add="--limit 3000 --lookback 16"),
    'pynn sample carried.npz --prime "ROMEO:" --length 300 --seed 1': Run(changes=(("--length 300", "--length 40"),)),
    "pynn summary carried.npz": Run(expect="stateful"),
    # recurrent networks
    "pynn summary 20x1-lstm300-20": Run(),
    "pynn train --data sine --horizon 5 --model lstm32-5 --optimizer adam --lr 0.01 --save sine.npz":
        Run(add="--epochs 2"),
    "pynn predict sine.npz --index 3": Run(),
    # the first 3,000 characters hold those of the sample's "ROMEO:"
    "pynn train --data shakespeare --optimizer adam --lr 0.005 --clip 5 --epochs 5 --save chars.npz":
        Run(changes=(("--epochs 5", "--epochs 1"),), add="--limit 3000"),
    'pynn sample chars.npz --prime "ROMEO:" --temperature 0.8': Run(add="--length 40"),
    "pynn summary": Mention("pynn summary 20x1-lstm300-20"),
    "pynn summary 20x1-lstm300-20 --data sine --horizon 20": Run(expect="Dense(20, identity)"),
    # convolutional layers
    "pynn summary 28x28-conv8k5-pool2-30-10": Run(expect="each of the 8 filters sees the whole 28x28 image"),
    "pynn train --model 28x28-conv8k5-pool2-30-10 --optimizer adam --lr 0.001 --batch 32 --epochs 3 --save conv.npz":
        Run(changes=(("--epochs 3", "--epochs 1"),), add="--limit 1000"),
    "pynn weights conv.npz": Run(),
    "pynn probe conv.npz --index 3": Run(expect="feature maps"),
    "pynn triggers conv.npz --layer 1 --unit 2": Run(),
    'pynn.Sequential([pynn.Conv2D(8, 5), pynn.MaxPool2D(2), pynn.Dense(30, "relu"), pynn.Dense(10)])': Call(
        "import pynn", "assert [layer.kind for layer in result.layers] == ['conv', 'pool', 'dense', 'dense']"),
    "w.transpose(3, 2, 0, 1)": Call("import numpy as np\nw = np.zeros((5, 5, 1, 8))  # K, K, C_in, F",
                                    "assert result.shape == (8, 1, 5, 5)  # F, C_in, K, K"),
    "pynn check": Mention("pynn check SPEC|FILE [--data D] [--loss L]"),
    "pynn triggers": Mention("pynn triggers FILE --unit U [--layer L] [--top 5]"),
    "python bench/conv_fidelity.py": Run(add="--seeds 0 --epochs 1", checkout=True, expect="784-30:relu-10"),
    # playground
    "pynn surface": Mention("pynn surface FILE [--layer L] [--neurons LIST] [--resolution N] [--replay K] [--json]"),
    "pynn train --data xor --model 2-8:tanh-2 --optimizer adam --lr 0.03 --epochs 100 --save xor.npz": Run(),
    "pynn surface xor.npz --resolution 32 --show-points test --layer 1 --neurons 0,2,3,4":
        Run(expect="the output: p(class 1)"),
    "pynn surface xor.npz --replay 4": Run(),
    "pynn train --data spiral --features 'x1,x2,x1^2,x2^2,sin(x1),sin(x2)' --model 8:tanh-8:tanh-2 --optimizer adam "
    "--lr 0.01 --epochs 100": Run(),
    "pynn compare --data circles --a model=2-2:tanh-2 --b model=2-8:tanh-2": Run(add="--epochs 2"),
    "pynn tui --data xor --model 2-8:tanh-2 --screen playground": Run(pty="output · p(class 1)"),
    # your own model: files the frameworks made (tests/fixtures/interop), copied in by the fixture `models`
    'model.save("lab.keras")': Elsewhere(MAKE_FIXTURES, 'model.save(HERE / "keras_lab.keras")',
                                         "Keras is not installed in tests; its fixture script saved lab.keras so"),
    'model.save("lab.h5")': Elsewhere(MAKE_FIXTURES, 'model.save(HERE / "keras_lab.h5"',
                                      "Keras is not installed in tests; its fixture script saved the .h5 so"),
    "pynn summary lab.keras": Run(expect="Keras's own count"),
    "pynn eval lab.keras --data digits": Run(),
    "pynn weights lab.keras": Run(),
    "pynn train --from lab.keras --data digits --optimizer adam --lr 0.001 --epochs 3 --save lab.npz":
        Run(changes=(("--epochs 3", "--epochs 1"),)),
    "pynn tui --load lab.keras": Elsewhere(
        "tests/test_interop_cli.py", "async def test_the_app_opens_a_keras_model_and_asks_for_its_data",
        "the app opens on a question for the data, where q is typed into the answer: the pilot test answers it"),
    'from safetensors.torch import save_file; save_file(model.state_dict(), "model.safetensors")': Elsewhere(
        MAKE_FIXTURES, "save_file(model.state_dict(), HERE", "PyTorch is not installed in tests; the fixture script "
        "saved model.safetensors (tests/fixtures/interop/torch_mlp.safetensors) with these two lines"),
    "pynn eval model.safetensors --model 784-25:relu-15:relu-10 --data digits": Run(),
    "nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2), nn.Tanh(), "
    "nn.Flatten(), nn.Linear(400, 30), nn.ReLU(), nn.Linear(30, 10))": Elsewhere(
        MAKE_FIXTURES, "torch.nn.Conv2d(8, 16, 3, stride=2), torch.nn.Tanh()",
        "PyTorch is not installed in tests; the fixture script built this net and saved net.safetensors"),
    "pynn eval net.safetensors --model 28x28-conv8k5-pool2-conv16k3s2:tanh-30:relu-10 --data digits": Run(),
    "pynn summary model.onnx": Run(expect="own count"),
    "pynn export digits.npz --to digits.onnx": Run(),
    "pynn export digits.npz --to digits.safetensors": Run(expect="Sequential(Linear(784, 30), Sigmoid(), Linear(30, 10))"),
    "Sequential(Linear(784, 25), ReLU(), Linear(25, 15), ReLU(), Linear(15, 10))": Elsewhere(
        "tests/test_interop_safetensors.py", "def test_export_names_follow_torch_sequential_indices",
        "the module pynn export names for 784-25:relu-15:relu-10, checked there"),
    'load_state_dict(load_file("m.safetensors"))': Elsewhere(
        MAKE_FIXTURES, "torch_model.load_state_dict(state, strict=True)",
        "PyTorch is not installed in tests; the fixture script loads pynn's exports so and records torch's outputs, "
        "which tests/test_interop_safetensors.py compares"),
    "LSTM(n_in, U, batch_first=True)": Elsewhere(
        MAKE_FIXTURES, "torch.nn.LSTM(28, 8, batch_first=True)", "the fixture script loads an exported LSTM into it"),
    "weight.reshape(out, C, H, W).transpose(0, 2, 3, 1).reshape(out, -1)": Call(
        "import numpy as np\nout, C, H, W = 30, 16, 5, 5\nweight = np.arange(out * C * H * W).reshape(out, C * H * W)",
        "assert result[0, 1] == weight[0, H * W]  # pynn's column 1 is position (0, 0) of channel 1"),
    'Dense(10, activation="linear")': Elsewhere(
        MAKE_FIXTURES, 'keras.layers.Dense(10, activation="linear"', "the course lab's output, in the Keras fixture"),
    # the app in a browser, and in pixels
    "pynn serve": Elsewhere("tests/test_serve.py", "def test_the_app_in_a_browser_shows_the_model_takes_keys_and_trains",
                            "a server runs until stopped: the test serves it on a free port to headless Chromium"),
    "pynn serve --port 8800 --load digits.npz --screen weights": Elsewhere(
        "tests/test_serve.py", "def test_each_tab_runs_pynn_tui_with_the_options_given_on_this_python",
        "a server runs until stopped: the app's options reaching each tab's pynn tui are checked there"),
    "ssh -L 8000:localhost:8000 HOST": Elsewhere(
        "tests/test_serve.py", "def test_the_page_connects_back_through_the_address_the_browser_used",
        "no second host here: the test gives the page the Host header such a tunnel gives"),
    "pynn weights digits.npz --pixels on": Run(),
    "PYNN_PIXELS=off pynn weights digits.npz": Run("pynn weights digits.npz", env=(("PYNN_PIXELS", "off"),)),
    # the app
    f"pynn tui {XOR}": Run(pty="2-8:tanh-2"),
    "pynn tui --load digits.npz [--screen train]":
        Run(changes=(("[--screen train]", "--screen train"),), pty="784-30-10"),
    "pynn tui": Run(status=2),  # piped: one sentence saying it needs a terminal
    "python bench/ui_stall.py": Run(add="--runs dense --seconds 0.2 --screens 2 --first-frame-runs 1",
                                    checkout=True),
    "python bench/soak.py": Run(add="--runs 2 --epochs 1 --spec 784-10-10 --long-epochs 3", checkout=True,
                                expect="after 2 runs of 1 epochs"),
    "pynn weights": Mention("pynn weights FILE [--layer L] [--neurons 0-9] [--cols C] [--scale shared|each]"),
    # the library
    "pynn.Dense(units, activation=None)": Call("import pynn\nunits = 30", "assert result.units == 30"),
    "pynn.LSTM(units, return_sequences=False)": Call("import pynn\nunits = 8",
                                                     "assert result.units == 8 and not result.return_sequences"),
    "pynn.Dropout(p)": Call("import pynn\np = 0.5", "assert result.p == 0.5"),
    "evaluate(data)": Call(SAVED_MODEL, "assert 0.5 < result['accuracy'] <= 1 and result['loss'] > 0"),
    'evaluate(data, split="train")': Call(SAVED_MODEL, "assert result != evaluate(data) and 0.5 < result['accuracy']"),
    "evaluate(x, y)": Call(SAVED_MODEL + "\nx, y = data.x_test, data.y_test", "assert result == evaluate(data)"),
    "model.forward(x)": Call(SAVED_MODEL + "\nx = data.x_test[:3]",
                             "out, caches = result\nassert out.shape == (3, 10) and len(caches) == len(model.layers)"),
    "model.backward(dout, caches)": Call(
        SAVED_MODEL + "\nout, caches = model.forward(data.x_test[:3], training=True)\ndout = out - 0.1",
        "assert abs(model.grads).sum() > 0"),
    "model.frozen()": Call(SAVED_MODEL, "import numpy as np\n"
                           "assert np.array_equal(result.params, model.params) and not result.params.flags.writeable"),
    "model.run.load_data()": Call(SAVED_MODEL, "assert len(result.x_test) == 2000 and result.name == 'digits'"),
    "train_one(config)": Call(
        "from pynn.experiments.sweep import sweep_configs, train_one\n"
        "config = sweep_configs([2], 1, data='xor', epochs=1)[0]",
        "assert 0 <= result['test_accuracy'] <= 1"),
    "train_variant(config)": Call(
        "from pynn.experiments.compare import train_variant, variant_config\nfrom pynn.run import RunConfig\n"
        "config = variant_config('a', {'init': 'normal'}, RunConfig(model='2-8:tanh-2', data='xor', epochs=1))",
        "assert result['history']"),
    # run descriptions
    "pynn train --config run.toml": Run(expect="784-100:relu-10 (79,510 parameters) on digits: 4,000 train"),
    "pynn train --config run.toml --epochs 5": Run(changes=(("--epochs 5", "--epochs 1"),)),
    "pynn train --config digits.npz --save again.npz": Run(),
    "pynn eval": Mention("pynn eval FILE [--data D] [--json]"),
    # sweeps on a cluster
    "pynn sweep --hidden 2,3,4,5,10,30,100 --seeds 5 --init lecun,normal --l2 0,5 --lr 0.1,0.5":
        Run(changes=SHORT_SWEEP, add="--epochs 1 --limit 500 --jobs 2"),
    "pip install 'pynn[dask]'": Elsewhere(
        "tests/test_readme.py", "def test_the_test_extra_installs_what_the_dask_extra_adds", CI),
    "dask scheduler": Run(add="--host 127.0.0.1 --port {port} --no-dashboard", server=True),
    "dask worker tcp://HOST:8786 --nworkers 4 --nthreads 1":
        Run(changes=(ON_THE_CLUSTER, ("--nworkers 4", "--nworkers 1")), server=True),
    "pynn sweep --hidden 2,3,4,5,10,30,100 --seeds 5 --init lecun,normal --l2 0,5 --cluster tcp://HOST:8786 "
    "--out results.jsonl": Run(changes=(*SHORT_SWEEP, ON_THE_CLUSTER), add="--epochs 1 --limit 500"),
    "pynn compare … --cluster":
        Mention('pynn compare [--data D] --model SPEC --a "init=normal" --b "init=lecun,l2=5" [--cluster ADDR]'),
    "sweep_configs(sizes, seeds, base, **fields)": Call(
        "from pynn.experiments.sweep import sweep_configs\nfrom pynn.run import RunConfig\n"
        "sizes, seeds, base, fields = [2, 3], 2, RunConfig(data='xor', epochs=1), {'l2': [0.0, 1.0]}",
        "assert len(result) == 2 * 2 * 2 and {r['l2'] for r in result} == {0.0, 1.0}"),
    'sweep_configs(sizes, seeds, init=["lecun", "normal"], l2=[0, 5])': Call(
        "from pynn.experiments.sweep import sweep_configs\nsizes, seeds = [2, 30], 3",
        "assert len(result) == 2 * 3 * 2 * 2"),
    "ProcessExecutor(jobs)": Call("from pynn.experiments.workers import ProcessExecutor\njobs = 2",
                                  "assert result.jobs == 2  # it runs in the table's `pynn sweep ... --jobs 2`"),
    "DaskExecutor(address)": Call(
        "from pynn.experiments.cluster import DaskExecutor\nfrom pynn.experiments.sweep import sweep_configs, train_one\n"
        "address = '{scheduler}'",
        "with result as executor:\n"
        "    runs = list(executor.finished(train_one, sweep_configs([2], 1, data='xor', epochs=1)))\n"
        "assert [run.error for run in runs] == [None]"),
    # benchmarks
    "pip install '.[bench]'": Elsewhere(
        "pyproject.toml", 'bench = ["torch', "not run: it downloads PyTorch, which no test needs; without it "
        "bench/run.py's torch column says so, as the next two lines show"),
    # bench/run.py exits 0 whatever each implementation did, and says "ok" for each that measured
    "python bench/run.py": Run(add="--only W7 --quick --reps 1", checkout=True, expect="W7 pynn: ok"),
    # no PyTorch in the tests' environment: the peer's python runs, and its column says PyTorch is missing
    "python bench/run.py --torch-python /path/to/venv/bin/python": Run(
        changes=(("/path/to/venv/bin/python", sys.executable),), add="--only W6 --quick --reps 1", checkout=True,
        expect="W6 pynn: ok"),
    "python bench/run.py --torch-python /work/fxvenv/bin/python": Mention(
        "python bench/run.py --torch-python /path/to/venv/bin/python"),
    "python bench/run.py --only W1,W3 --quick --json bench.json":
        Run(changes=(("--only W1,W3", "--only W6"), ("--json bench.json", "--json {scratch}/bench.json")),
            add="--reps 1", checkout=True, expect="W6 pynn: ok"),
    # how it is built
    "python -m pytest": Elsewhere(
        "tests/test_installed_package.py", "def test_python_m_pytest_in_the_checkout_tests_the_installed_pynn",
        "a copy of the checkout without a built core runs it there against an installed pynn"),
    "python -m pynn._build": Elsewhere(
        ".ci/run", "PYNN_SANITIZE=1 python -m pynn._build", "CI builds the sanitizer core in place with it"),
    "pynn explain": Mention("pynn explain FILE --class C [--top 3]"),
    "pynn probe": Mention("pynn probe FILE --index N [--misclassified] [--count K] [--why]"),
    "pynn sweep": Mention("pynn sweep [--data D] --hidden 2,3,4,5,10,30,100 [--seeds 3] [--init A,B] [--l2 X,Y] "
                          "[--lr R,S] [--epochs N] [--jobs J | --cluster tcp://HOST:8786] [--out FILE [--resume]]"),
    "PYNN_NATIVE=1 pip install .": Elsewhere(
        "pynn/_build.py", '"-march=native"', "not run: a second build of the C core whose one difference is "
        "this compiler flag; CI builds the portable core and the sanitizer one"),
}

OTHER_TABLES = {
    "key": Elsewhere("tests/test_app.py", "def test_question_mark_lists_every_key_of_every_screen",
                     "the app's keys, pressed through Textual's pilot there and in tests/test_app_screens.py"),
    "how": Elsewhere("tests/test_cluster.py", "def test_a_two_worker_local_cluster_gives_the_serial_numbers",
                     "wall times measured by hand; --jobs and --cluster run here and give equal numbers there"),
    "id": Elsewhere("bench/workloads.py", '"W7"', "the benchmark's workloads, which bench/run.py runs"),
    "digits, 784-30-10, 3 epochs": Elsewhere(
        "tests/test_double_softmax.py", "def test_on_digits_the_freeze_is_partial",
        "accuracies measured with pynn freeze; the freeze's shape on the digits is tested there"),
    "digits, Adam, 3 epochs": Elsewhere(
        "bench/conv_fidelity.py", '"28x28-conv8k5-pool2-30-10": 0.940',
        "accuracies measured with python bench/conv_fidelity.py (about two minutes); "
        "tests/test_conv_layers.py trains a conv model on the digits"),
    "shakespeare, lstm128, Adam": Elsewhere(
        "tests/test_stateful.py", "def test_a_stateful_run_on_shakespeare_reads_streams_and_carries_the_state",
        "losses measured by hand with the commands above; what --stateful does is tested there"),
}

# Examples that fail today because of a bug another part of issue 12 fixes: remove the line with the fix.
KNOWN_FAILURES: dict[str, str] = {}


# -- running ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    # {h} is the sweep's own placeholder in a model template, not the test's
    assert not re.search(r"\{(?!h\})[a-z]+\}", text), f"unfilled placeholder in {text!r}"
    return text


def argv(line: str) -> list[str]:
    program, *args = shlex.split(line)
    return [{"pynn": str(BIN / "pynn"), "python": sys.executable, "dask": str(BIN / "dask")}[program], *args]


_finished: dict[tuple, tuple[int, str]] = {}  # a command two examples share runs once


def run_command(run: Run, readme_text: str, values: dict[str, str], where: str) -> None:
    line = fill(run.line(readme_text), values)
    env = {k: fill(v, values) for k, v in run.env}
    key = (line, tuple(sorted(env.items())), run.pty)
    if key not in _finished:
        cwd = ROOT if run.checkout else Path(values["scratch"])
        if run.pty:
            from test_app import launch_in_pty  # bare `pynn` opens the app only on a terminal

            assert not env, "a pty run takes no extra environment"
            first, status, drawn = launch_in_pty(shlex.split(line)[1:], run.pty.encode(), cwd=cwd)
            assert first is not None, f"{where}: `{line}` never drew {run.pty!r}"
            _finished[key] = (status, drawn[-3000:].decode(errors="replace"))
        else:
            proc = subprocess.run(argv(line), cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True,
                                  timeout=PATIENCE_S)
            _finished[key] = (proc.returncode, (proc.stdout[-3000:] + proc.stderr[-3000:]))
    status, output = _finished[key]
    assert status == run.status, f"{where}: `{line}` exited {status}, not {run.status}:\n{output}"
    assert run.expect in output, f"{where}: `{line}` did not say {run.expect!r}:\n{output}"


def runs_of(text: str) -> tuple[Run, ...]:
    entry = EXAMPLES[text]
    return entry if isinstance(entry, tuple) else (entry,)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("readme")


@pytest.fixture(scope="module")
def models(scratch) -> dict[str, str]:
    """The files the README's commands name, from real short trainings, and the data files its tables name."""
    values = {"scratch": str(scratch), "idx": str(scratch / "idx")}
    made_by_the_readme = [text for text in EXAMPLES
                          if any(f"--save {name}.npz" in text for name in ("sine", "chars", "xor", "conv"))]
    assert len(made_by_the_readme) == 4, made_by_the_readme
    for text in made_by_the_readme:
        run_command(runs_of(text)[0], text, values, FIRST[text].where)
    for name, text in TOML_FILES:
        (scratch / name).write_text(text)
    run_command(Run("pynn train --epochs 2 --save digits.npz"), "", values, "fixture models")
    run_command(Run(f"pynn train {XOR} --epochs 1 --save resume.npz"), "", values, "fixture models")

    for readme_name, made_by_the_framework in (("lab.keras", "keras_lab.keras"), ("model.safetensors", "torch_mlp.safetensors"),
                                               ("net.safetensors", "torch_conv.safetensors"),
                                               ("model.onnx", "onnx/mlp.onnx")):
        (scratch / readme_name).write_bytes((INTEROP / made_by_the_framework).read_bytes())

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    np.savez(scratch / "points.npz", x=x, y=y)
    np.savez(scratch / "images.npz", x)
    np.savez(scratch / "labels.npz", y)
    months = np.arange(144)
    passengers = 120 + months + 40 * np.sin(months * 2 * np.pi / 12)
    (scratch / "series.csv").write_text("month,passengers\n" + "".join(f"{m},{p:.1f}\n" for m, p in
                                                                        zip(months, passengers)))
    import pynn.data

    digits = Path(pynn.data.__file__).parent / "digits"
    for name in ("mnist", "fashion-mnist"):  # the bundled test digits stand in for both halves of a full set
        folder = scratch / "idx" / name
        folder.mkdir(parents=True)
        for part in ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"):
            for split in ("train", "t10k"):
                (folder / f"{split}-{part}").write_bytes((digits / f"t10k-{part}").read_bytes())
    return values


@pytest.fixture(scope="module")
def cluster(scratch):
    """The README's `dask scheduler` and `dask worker`, running until the module's tests are done."""
    port = free_port()
    values = {"port": str(port), "scheduler": f"tcp://127.0.0.1:{port}"}
    servers = [text for text, entry in EXAMPLES.items() if isinstance(entry, Run) and entry.server]
    assert [t.split()[:2] for t in servers] == [["dask", "scheduler"], ["dask", "worker"]], servers
    started = []
    try:
        for text in servers:
            log = open(scratch / f"{'-'.join(text.split()[:2])}.log", "w")
            started.append((subprocess.Popen(argv(fill(runs_of(text)[0].line(text), values)), cwd=scratch,
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True),
                            log))
            if text.startswith("dask scheduler"):
                wait_for_port(port, *started[0])
        yield {**values, "processes": {text: proc for text, (proc, _) in zip(servers, started)}}
    finally:
        for proc, log in reversed(started):  # each started in a session of its own: its group is its own
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()


def wait_for_port(port: int, proc: subprocess.Popen, log) -> None:
    end = time.monotonic() + PATIENCE_S
    while True:
        assert proc.poll() is None, f"dask scheduler exited {proc.returncode}: {Path(log.name).read_text()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < end, "dask scheduler never listened"
            time.sleep(0.1)


def values_for(request, texts: list[str]) -> dict[str, str]:
    values = dict(request.getfixturevalue("models"))
    if any("{scheduler}" in t or "{port}" in t for t in texts):
        values.update({k: v for k, v in request.getfixturevalue("cluster").items() if k != "processes"})
    return values


# -- the tests ----------------------------------------------------------------------------------------------

def example_params():
    for text, example in FIRST.items():
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[text])] if text in KNOWN_FAILURES else []
        yield pytest.param(example, id=text if len(text) <= 100 else text[:97] + "...", marks=marks)


@pytest.mark.parametrize("example", example_params())
def test_every_readme_example_runs(example, request, monkeypatch):
    if example.text not in EXAMPLES:
        pytest.fail(f"README {example.where}: {example.text!r} has no entry in EXAMPLES of tests/test_readme.py; "
                    "say there how it runs", pytrace=False)
    entry = EXAMPLES[example.text]
    if isinstance(entry, Elsewhere):
        assert entry.evidence in (ROOT / entry.where).read_text(), f"{entry.where} no longer has {entry.evidence!r}"
    elif isinstance(entry, Mention):
        assert entry.example in FIRST and not isinstance(EXAMPLES.get(entry.example), Mention), entry
    elif isinstance(entry, Call):
        values = values_for(request, [entry.setup])
        monkeypatch.chdir(values["scratch"])
        names: dict = {}
        exec(fill(entry.setup, values), names)
        names["result"] = eval(example.text, names)
        exec(entry.check, names)
    else:
        runs = runs_of(example.text)
        values = values_for(request, [run.line(example.text) for run in runs])
        for run in runs:
            if run.server:
                proc = request.getfixturevalue("cluster")["processes"][example.text]
                assert proc.poll() is None, f"`{example.text}` exited {proc.returncode}"
            else:
                run_command(run, example.text, values, example.where)


def options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


def is_template(text: str) -> bool:
    return "[" in text or re.search(r"\b[A-Z][A-Z_]*\b", text) is not None


FILLED_IN = [t for t, e in FIRST.items() if e.code and isinstance(EXAMPLES.get(t), (Run, tuple))
             and any(run.command for run in runs_of(t))]


@pytest.mark.parametrize("text", FILLED_IN, ids=[t if len(t) <= 100 else t[:97] + "..." for t in FILLED_IN])
def test_a_filled_in_example_uses_what_the_readme_shows(text):
    """A filled-in template runs the README's options, all of them and (for a command row) no others; a
    filled-in concrete example (a spec, a data name) still contains it verbatim."""
    filled = [run.command for run in runs_of(text) if run.command]
    if not is_template(text):
        assert all(text in command for command in filled), (text, filled)
        return
    used = set().union(*map(options, filled))
    assert options(text) <= used, f"{text!r}: no run uses {sorted(options(text) - used)}"
    if FIRST[text].kind == "command row":
        assert used <= options(text), f"{text!r}: the runs add {sorted(used - options(text))}"
        assert all(command.split()[:2] == text.split()[:2] for command in filled), (text, filled)


def test_the_reader_finds_every_kind_of_example():
    text = "\n".join([
        "Run `pynn train\n--epochs 2` or `pynn` or call `f(x)`; not `pynn.inspect` or `(m, n)`.", "",
        "    pip install . && pynn eval m.npz      # a comment", "    pynn sweep --a \\", "        --b", "",
        "| command | what |", "| --- | --- |", "| `pynn x SPEC\\|FILE`, `pynn y` | see `apt-get install z` |", "",
        "| name | what |", "| --- | --- |", "| a path | words |", "",
        "| key | what |", "| --- | --- |", "| `q` | quits |", "",
        "```python", "print(1)", "```", "```text", "output", "```", "```sh", "ls", "```"])
    examples, python, headers, fences = read_readme(text)
    assert [(e.text, e.kind) for e in examples] == [
        ("pynn train --epochs 2", "inline"), ("f(x)", "call"), ("pip install .", "block"), ("pynn eval m.npz", "block"),
        ("pynn sweep --a --b", "block"), ("pynn x SPEC|FILE", "command row"), ("pynn y", "command row"),
        ("apt-get install z", "inline"), ("a path", "data row")]
    assert not examples[-1].code and python == [(20, "print(1)")]
    assert [h for _, h in headers] == ["command", "name", "key"] and fences == ["line 26: ```sh"]


def test_no_entry_outlives_its_example():
    assert sorted(set(EXAMPLES) - set(FIRST)) == []
    assert sorted(set(KNOWN_FAILURES) - set(FIRST)) == []


def test_every_fence_and_table_is_known():
    assert OTHER_FENCES == [], "a fence is ```python (it runs) or ```text (output)"
    for number, header in TABLE_HEADERS:
        assert header in RUN_TABLES or header in OTHER_TABLES, f"line {number}: a table of {header!r} is not known"
    for entry in OTHER_TABLES.values():
        assert entry.evidence in (ROOT / entry.where).read_text(), entry


def test_the_readme_python_runs(tmp_path):
    """The ```python blocks in order, in one fresh interpreter, in an empty folder."""
    assert len(PYTHON_BLOCKS) >= 2
    script = "\n".join(f"print('README line {n}', flush=True)\n{code}" for n, code in PYTHON_BLOCKS)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=PATIENCE_S)
    reached = re.findall(r"README line \d+", proc.stdout)
    assert proc.returncode == 0, f"the block at {reached[-1] if reached else '?'} failed:\n{proc.stderr[-3000:]}"
    assert reached and reached[-1] == f"README line {PYTHON_BLOCKS[-1][0]}"  # every block ran


def test_the_test_extra_installs_what_the_dask_extra_adds():
    """`pip install 'pynn[dask]'` needs no test of its own: CI's install of the test extra includes it."""
    extras = dict(re.findall(r"^(\w+) = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.M))
    assert set(re.findall(r'"([^"]+)"', extras["dask"])) <= set(re.findall(r'"([^"]+)"', extras["test"]))


def test_the_names_the_readme_imports_load_their_modules_only_when_used(tmp_path):
    """`import pynn` and `import pynn.inspect` load no analysis and not the compiled core (a worker sets its
    thread count first); every analysis named in pynn.inspect.__all__ is there."""
    script = ("import sys, pynn, pynn.inspect\n"
              "assert not [m for m in sys.modules if m == 'pynn._core' or m.startswith('pynn.inspect.')], sys.modules\n"
              "from pynn.inspect import *\n"
              "assert all(callable(globals()[name]) for name in pynn.inspect.__all__)\n"
              "assert 'pynn.experiments.workers' not in sys.modules and callable(pynn.load)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=PATIENCE_S,
                          cwd=tmp_path)  # not the checkout, whose own pynn has a core only in an editable install
    assert proc.returncode == 0, proc.stderr
