"""The LSTM drawn unrolled over its steps with the shape at every point, and what outputs and states are."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text


def unrolled_diagram(row: dict) -> Group:
    """row: an LSTM layer's entry of pynn.summary.model_summary (steps, n_in, units, return_sequences)."""
    T, n, U, seq = row["steps"], row["n_in"], row["units"], row["return_sequences"]
    cols = (3, 22, 46)  # where the first, second and last cell stand

    def place(*parts: str) -> Text:
        line = ""
        for col, part in zip(cols, parts):
            line = line.ljust(col) + part
        return Text(line.rstrip())

    lines = [
        Text(f"layer {row['index']}: LSTM({U}) unrolled over {T} steps (m = batch size)", style="bold"),
        place("   x_1", "   x_2", f"   x_{T}"),
        place("   │", "   │", "   │"),
        place("┌──────┐", "┌──────┐", "┌──────┐"),
        place("│ cell │ ──h,c──▶", "│ cell │ ──h,c──▶ ···", f"│ cell │ ──▶ h_{T}, c_{T}"),
        place("└──────┘", "└──────┘", "└──────┘"),
        place("   ▼ h_1", "   ▼ h_2", f"   ▼ h_{T}"),
        Text(f"   x_t (m, {n}) → gates (m, {4 * U}) = x_t·Wxᵀ + h_(t-1)·Whᵀ + b → i, f, g, o (m, {U}) each"),
        Text(f"   c_t = f⊙c_(t-1) + i⊙g (m, {U});  h_t = o⊙tanh(c_t) (m, {U})"),
        Text(f"   Wx ({4 * U}, {n}), Wh ({4 * U}, {U}), b ({4 * U})"),
        Text(""),
        Text("outputs: " + (f"all {T} hidden states h_1…h_{T}, shape (m, {T}, {U}); the next layer sees every step."
                            if seq else f"only the last hidden state h_{T}, shape (m, {U}); the other steps' "
                            "outputs are computed but not passed on."), style="cyan"),
        Text(f"states: the pair (h_t, c_t), each (m, {U}), handed from one step to the next; c_t is the cell's "
             f"memory and h_t is both that step's output and the state passed on.", style="cyan"),
        Text(f"weights: there is one cell, not {T}: the same Wx, Wh and b are used at every step, and its {U} "
             f"units are the width of h_t and c_t.", style="cyan"),
    ]
    return Group(*lines)
