"""The LSTM drawn unrolled over its steps with the shape at every point, and what outputs and states are."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text

from pynn.words import plural


def unrolled_diagram(row: dict) -> Group:
    """row: an LSTM layer's entry of pynn.summary.model_summary (steps, n_in, units, return_sequences)."""
    T, n, U, seq = row["steps"], row["n_in"], row["units"], row["return_sequences"]
    cols = (3, 22, 46)  # where the first, second and last cell stand
    steps = [1, 2, T][:T]  # the first two steps and the last, or as many as there are

    def place(each, last: str) -> Text:
        line = ""
        for col, t in zip(cols, steps):
            line = line.ljust(col) + (last if t == T else each(t))
        return Text(line.rstrip())

    arrow = "──h,c──▶" + (" ···" if T > 3 else "")  # ··· stands for the steps not drawn
    lines = [
        Text(f"layer {row['index']}: LSTM({U}) unrolled over {plural(T, 'step')} (m = batch size)", style="bold"),
        place(lambda t: f"   x_{t}", f"   x_{T}"),
        place(lambda t: "   │", "   │"),
        place(lambda t: "┌──────┐", "┌──────┐"),
        place(lambda t: f"│ cell │ {arrow if t == 2 else '──h,c──▶'}", f"│ cell │ ──▶ h_{T}, c_{T}"),
        place(lambda t: "└──────┘", "└──────┘"),
        place(lambda t: f"   ▼ h_{t}", f"   ▼ h_{T}"),
        Text(f"   x_t (m, {n}) → gates (m, {4 * U}) = x_t·Wxᵀ + h_(t-1)·Whᵀ + b → i, f, g, o (m, {U}) each"),
        Text(f"   c_t = f⊙c_(t-1) + i⊙g (m, {U});  h_t = o⊙tanh(c_t) (m, {U})"),
        Text(f"   Wx ({4 * U}, {n}), Wh ({4 * U}, {U}), b ({4 * U})"),
        Text(""),
        Text("outputs: " + (f"all {plural(T, 'hidden state')} h_1…h_{T}, shape (m, {T}, {U}); the next layer sees "
                            "every step."
                            if seq else f"only the last hidden state h_{T}, shape (m, {U}); the other steps' "
                            "outputs are computed but not passed on."), style="cyan"),
        Text(f"states: the pair (h_t, c_t), each (m, {U}), handed from one step to the next; c_t is the cell's "
             f"memory and h_t is both that step's output and the state passed on. " + (
                 f"Trained statefully: a window starts from the (h_{T}, c_{T}) that the window before it in its batch "
                 "row (its stream) ended in, carried from batch to batch but not back-propagated through; it "
                 "restarts at zero each epoch, and evaluation reads every window from zero."
                 if row.get("stateful") else
                 "Every window starts from h_0 = c_0 = 0: nothing is carried from one window to the next "
                 "(--stateful carries it)."), style="cyan"),
        Text(f"weights: there is one cell{f', not {T}' if T > 1 else ''}: the same Wx, Wh and b are used at every "
             f"step, and its {plural(U, 'unit')} {'is' if U == 1 else 'are'} the width of h_t and c_t.", style="cyan"),
    ]
    return Group(*lines)
