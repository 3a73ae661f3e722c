"""TensorFlow Playground's 2-D sets (xor, circles, a two-armed spiral, moons, and the plane and bump to regress)
drawn on its [-6, 6] square with its noise and train/test split, and its input features (x1, x2, x1², x2², x1·x2,
sin x1, sin x2) computed from any set's two coordinates.

A set on the plane keeps its raw coordinates in meta["plane"], so a front end draws the points where they are
whatever features the model reads; the features are part of the run description, so a saved model's surfaces
apply the same ones."""
from __future__ import annotations

import numpy as np

from pynn.data.dataset import CLASSIFICATION, REGRESSION, Dataset
from pynn.run import ConfigError

SOURCE = "synthetic, seeded (as TensorFlow Playground draws it)"
EXTENT = 6.0                 # Playground shows [-6, 6] on both axes
DEFAULT_POINTS = 500
DEFAULT_TEST_RATIO = 0.5     # Playground's "ratio of training to test data: 50%"

# Canonical names (as a run description keeps them) in the order the model's input columns take.
FEATURES = {
    "x1": lambda p: p[:, 0],
    "x2": lambda p: p[:, 1],
    "x1^2": lambda p: p[:, 0] ** 2,
    "x2^2": lambda p: p[:, 1] ** 2,
    "x1*x2": lambda p: p[:, 0] * p[:, 1],
    "sin(x1)": lambda p: np.sin(p[:, 0]),
    "sin(x2)": lambda p: np.sin(p[:, 1]),
}
DEFAULT_FEATURES = ("x1", "x2")
# What people type for them: x1², x1**2, x1x2, x1·x2, sinx1, sin x1 ...
_SPELLINGS = {"x1²": "x1^2", "x2²": "x2^2", "x1**2": "x1^2", "x2**2": "x2^2", "x1x1": "x1^2", "x2x2": "x2^2",
              "x1*x1": "x1^2", "x2*x2": "x2^2", "x1x2": "x1*x2", "x1·x2": "x1*x2", "x2*x1": "x1*x2",
              "sinx1": "sin(x1)", "sinx2": "sin(x2)", "sin(x1)": "sin(x1)", "sin(x2)": "sin(x2)"}
PRETTY = {"x1": "x1", "x2": "x2", "x1^2": "x1²", "x2^2": "x2²", "x1*x2": "x1·x2", "sin(x1)": "sin x1",
          "sin(x2)": "sin x2"}


def parse_features(text: str | None) -> list[str]:
    """'x1,x2,x1*x2' -> the canonical names in FEATURES' order (None: x1, x2); one sentence for a name that
    is not a feature."""
    if text is None:
        return list(DEFAULT_FEATURES)
    chosen = set()
    for part in filter(None, (p.strip().lower().replace(" ", "") for p in str(text).split(","))):
        name = _SPELLINGS.get(part, part)
        if name not in FEATURES:
            raise ConfigError("features", f"has {part!r}, which is not a feature; choose from {', '.join(FEATURES)}")
        chosen.add(name)
    if not chosen:
        raise ConfigError("features", f"names no feature; choose from {', '.join(FEATURES)}")
    return [name for name in FEATURES if name in chosen]


def features_text(names) -> str:
    """The run description's spelling of a list of features ('x1,x2,x1*x2')."""
    return ",".join(parse_features(",".join(names)))


def feature_matrix(points: np.ndarray, names) -> np.ndarray:
    """(m, len(names)) float32: each feature of every point (m, 2) of the plane."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return np.stack([FEATURES[name](points) for name in names], axis=1).astype(np.float32)


def on_the_plane(data: Dataset, features: str | None) -> Dataset:
    """data with its features computed, and its raw coordinates kept in meta["plane"], when each of its
    samples is two numbers; any other data is returned as it is, unless features were asked for."""
    if data.sample_shape != (2,) or data.meta.get("kind") in ("series", "text", "sequence"):
        if features is not None:
            raise ConfigError("features", f"are computed from a sample's two numbers (x1, x2); {data.name}'s "
                              f"samples have shape {tuple(data.sample_shape)}")
        return data
    names = parse_features(features)
    raw_train, raw_test = data.x_train.astype(np.float32), data.x_test.astype(np.float32)
    data.meta = dict(data.meta, plane={"features": names, "x_train": raw_train, "x_test": raw_test,
                                       "extent": data.meta.get("extent") or _extent_of(raw_train, raw_test)})
    data.x_train, data.x_test = feature_matrix(raw_train, names), feature_matrix(raw_test, names)
    data.sample_shape = (len(names),)
    return data


def _extent_of(*parts: np.ndarray) -> list[list[float]]:
    """[[x1 low, x1 high], [x2 low, x2 high]]: the points' box with a margin, for data from a file."""
    points = np.concatenate([p for p in parts if len(p)])
    low, high = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
    margin = np.maximum((high - low) * 0.05, 1e-3)
    return [[float(low[i] - margin[i]), float(high[i] + margin[i])] for i in range(2)]


# -- the sets ------------------------------------------------------------------------------------------------

def _settings(n, noise, points, test_ratio, default_points=DEFAULT_POINTS) -> tuple[int, float, float]:
    m = points if points is not None else (n or default_points)
    noise = 0.0 if noise is None else float(noise)
    ratio = DEFAULT_TEST_RATIO if test_ratio is None else float(test_ratio)
    if m < 4:
        raise ConfigError("points", f"must be at least 4, not {m}")
    if not (np.isfinite(noise) and 0.0 <= noise <= 1.0):
        raise ConfigError("noise", f"must be between 0 and 1 (Playground's 0-100%), not {noise}")
    if not 0.0 < ratio < 1.0:
        raise ConfigError("test_ratio", f"must be between 0 and 1 (the share of points kept for testing), not {ratio}")
    return int(m), noise, ratio


def _split(name: str, x: np.ndarray, y: np.ndarray, rng, ratio: float, task: str = CLASSIFICATION) -> Dataset:
    """Shuffle, then the first `ratio` of the points for testing (Playground's split)."""
    order = rng.permutation(len(x))
    n_test = min(max(1, int(round(len(x) * ratio))), len(x) - 1)
    test, train = order[:n_test], order[n_test:]
    x = x.astype(np.float32)
    if task == CLASSIFICATION:
        y, names = y.astype(np.int32), ["0", "1"]
    else:
        y, names = y.astype(np.float32).reshape(-1, 1), None
    extent = [[-EXTENT, EXTENT], [-EXTENT, EXTENT]]
    return Dataset(name, x[train], y[train], x[test], y[test], (2,), task, names, source=SOURCE,
                   meta={"extent": extent})


def xor(seed: int = 0, n: int | None = None, noise: float | None = None, points: int | None = None,
        test_ratio: float | None = None) -> Dataset:
    """Playground's exclusive or: class 1 where x1 and x2 have the same sign, a gap along the axes; no
    straight line separates it.

    Points are uniform on [-5, 5]² pushed 0.3 off the axes; noise moves where a point's label is read by up
    to noise·5, so some points near the axes take the other class."""
    m, noise, ratio = _settings(n, noise, points, test_ratio)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5, (m, 2))
    x += np.where(x > 0, 0.3, -0.3)
    read = x + rng.uniform(-5, 5, (m, 2)) * noise
    return _split("xor", x, (read[:, 0] * read[:, 1] >= 0), rng, ratio)


def circles(seed: int = 0, n: int | None = None, noise: float | None = None, points: int | None = None,
            test_ratio: float | None = None) -> Dataset:
    """Playground's circle: class 1 in a disc of radius 2.5, class 0 in a ring from 3.5 to 5 around it.

    Noise moves where a point's label is read by up to noise·5."""
    m, noise, ratio = _settings(n, noise, points, test_ratio)
    rng = np.random.default_rng(seed)
    inside = np.arange(m) < m // 2
    r = np.where(inside, rng.uniform(0, 2.5, m), rng.uniform(3.5, 5.0, m))
    angle = rng.uniform(0, 2 * np.pi, m)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    read = x + rng.uniform(-5, 5, (m, 2)) * noise
    return _split("circles", x, np.hypot(read[:, 0], read[:, 1]) < 2.5, rng, ratio)


def spiral(seed: int = 0, n: int | None = None, noise: float | None = None, points: int | None = None,
           test_ratio: float | None = None) -> Dataset:
    """Playground's spiral: two arms winding 1.75 turns out to radius 5, one class each; the hardest of its
    sets (the spiral3 set has three arms).

    Noise shifts each point by up to noise on each axis."""
    m, noise, ratio = _settings(n, noise, points, test_ratio)
    rng = np.random.default_rng(seed)
    per = m // 2
    arms = []
    for label, turn in ((1, 0.0), (0, np.pi)):
        i = np.arange(per) / per
        r, t = i * 5, 1.75 * i * 2 * np.pi + turn
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + rng.uniform(-1, 1, (per, 2)) * noise
        arms.append((xy, np.full(per, label)))
    x, y = np.concatenate([a[0] for a in arms]), np.concatenate([a[1] for a in arms])
    return _split("spiral", x, y, rng, ratio)


def moons(seed: int = 0, n: int | None = None, noise: float | None = None, points: int | None = None,
          test_ratio: float | None = None) -> Dataset:
    """Two interlocking half-moons (scikit-learn's, scaled to the plane): class 1 the upper.

    Noise adds a Gaussian of standard deviation noise·2.5 to each coordinate."""
    m, noise, ratio = _settings(n, noise, points, test_ratio)
    rng = np.random.default_rng(seed)
    y = (np.arange(m) % 2 == 0)
    angle = rng.uniform(0, np.pi, m)
    x = np.where(y[:, None], np.stack([np.cos(angle), np.sin(angle)], 1),
                 np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], 1))
    x = (x - [0.5, 0.25]) * 2.5 + rng.normal(0, noise * 2.5, (m, 2))
    return _split("moons", x, y, rng, ratio)


def plane(seed: int = 0, n: int | None = None, noise: float | None = None, points: int | None = None,
          test_ratio: float | None = None) -> Dataset:
    """Playground's plane to regress: the target is (x1 + x2) / 10 on [-6, 6]², from -1.2 to 1.2.

    Noise moves where a point's target is read by up to noise·6."""
    m, noise, ratio = _settings(n, noise, points, test_ratio)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-EXTENT, EXTENT, (m, 2))
    read = x + rng.uniform(-EXTENT, EXTENT, (m, 2)) * noise
    return _split("plane", x, read.sum(axis=1) / 10.0, rng, ratio, REGRESSION)


_BUMPS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def bump(seed: int = 0, n: int | None = None, noise: float | None = None, points: int | None = None,
         test_ratio: float | None = None) -> Dataset:
    """Playground's multi-Gaussian to regress: six bumps of alternating sign (+1 or -1 at their centres,
    fading to 0 two units away) on [-6, 6]².

    Noise moves where a point's target is read by up to noise·6."""
    m, noise, ratio = _settings(n, noise, points, test_ratio)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-EXTENT, EXTENT, (m, 2))
    read = x + rng.uniform(-EXTENT, EXTENT, (m, 2)) * noise
    heights = np.stack([sign * np.clip(1 - np.hypot(read[:, 0] - cx, read[:, 1] - cy) / 2, 0, 1)
                        for cx, cy, sign in _BUMPS])
    strongest = np.abs(heights).argmax(axis=0)  # as Playground: the bump nearest its centre speaks
    return _split("bump", x, heights[strongest, np.arange(m)], rng, ratio, REGRESSION)


PLAYGROUND = {"xor": xor, "circles": circles, "spiral": spiral, "moons": moons, "plane": plane, "bump": bump}
