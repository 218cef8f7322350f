"""Group speech windows (or longer pieces) into speakers, finding how many there are.

Top-down: start with one speaker and keep splitting a cluster in two while
the two halves are told apart, taking the clearest split first. A split is
proposed by 2-means and by the main axis of variation, then refined by
cosine k-means weighted by duration. Splitting a two-speaker cluster in two
is an easier question than a k-way partition of the whole file, where a
speaker with a single turn tends to be overlooked. (Spectral clustering,
`spectralcluster`'s NME-SC auto-tuning, and scikit-learn's average-linkage
clustering were measured against it on real voices: both split single real
speakers in two or merged the synthetic ones; see the README.)

Told apart means:

    separation = mean within-cluster similarity - mean cross-cluster similarity

over pairs of 1.6 s windows that do not overlap. A speaker cut in two scores
~0 (the halves are as alike across as within); with CAM++ embeddings two
distinct voices, real or espeak, score >= 0.2 (>= 0.4 for the real voices
measured). It is a difference of similarities, not a
threshold on similarity, so it holds when noise or a poor microphone makes
all windows more alike. Few windows make it noisy, and the best of many
possible splits of one voice can reach 0.25 on 3 + 15 windows: a part heard
in fewer than SMALL_WINDOWS windows must stand out far more clearly, and a
part with a sliver of the speech (a cough, a laugh, a 1 s "yes") is never a
speaker. That is what fooled average-linkage clustering on short segments.
The noise of the best split shrinks as the parts grow, about as one over the
square root of the windows heard, so the separation needed is
MIN_SEPARATION + FEW_WINDOWS / sqrt(windows of the smaller part). The
constants were measured on the best split of each single voice of the
real-voice mosaics, the synthetic interviews and the one-reader fixture
(always under ~0.45 / sqrt(windows)), against the separation of their true
speakers; the AMI meeting excerpts were kept out, to measure on.

With num_speakers (or min_speakers above the estimate) the clearest splits
are taken regardless, until the count is reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..options import MAX_SPEAKERS

MAX_ITEMS = 1000
MIN_SEPARATION = 0.06  # CAM++: one voice split in two stays under ~0.45 / sqrt(windows of its smaller part)
SLIVER_SHARE = 0.05  # a part with less of the speech than this (and < SLIVER_MAX_S) is no speaker
SLIVER_MAX_S = 30.0
SLIVER_MIN_S = 1.5  # ... and one with less than this never is
SMALL_WINDOWS = 6  # a speaker heard in fewer 1.6 s windows than this (~3.5 s of speech) ...
SMALL_SEPARATION = 0.3  # ... must stand out this clearly: few windows make separation noisy
FEW_WINDOWS = 0.5  # a part of n windows needs MIN_SEPARATION + FEW_WINDOWS / sqrt(n): the noise of the best split


@dataclass
class Items:
    """What clustering needs about each item of speech (a window or a piece of windows), additive over items."""

    sums: np.ndarray  # (n, d) sum of the item's window embeddings
    counts: np.ndarray  # (n,) windows in the item
    self_dot: np.ndarray  # (n,) |sums|^2: all window pairs of the item, overlapping or not
    far_sum: np.ndarray  # (n,) summed similarity of the item's window pairs that do not overlap
    far_count: np.ndarray  # (n,)
    duration: np.ndarray  # (n,) seconds of speech

    @classmethod
    def from_windows(cls, vectors: np.ndarray, spans: np.ndarray, item: np.ndarray, rows: np.ndarray) -> Items:
        """Item statistics of the windows `rows` of `vectors`; item[j] is the item of window rows[j].

        Windows are read by index and in blocks, so the (possibly float16)
        window store is never copied whole.
        """
        n = int(item.max()) + 1 if len(item) else 0
        d = vectors.shape[1]
        sums = np.zeros((n, d))
        for at in range(0, len(rows), 4096):
            np.add.at(sums, item[at : at + 4096], vectors[rows[at : at + 4096]].astype(np.float32))
        counts = np.bincount(item, minlength=n).astype(float)
        far_sum, far_count, duration = np.zeros(n), np.zeros(n), np.zeros(n)
        bounds = np.searchsorted(item, np.arange(n + 1))  # items are consecutive runs
        for i in range(n):
            idx = rows[bounds[i] : bounds[i + 1]]
            v, s = vectors[idx].astype(np.float32), spans[idx]
            far = np.triu(np.abs(s[:, None, 0] - s[None, :, 0]) >= (s[:, 1] - s[:, 0]).max(), 1)
            far_sum[i] = float((v @ v.T)[far].sum())
            far_count[i] = float(far.sum())
            duration[i] = s[:, 1].max() - s[:, 0].min()
        return cls(sums, counts, np.einsum("ij,ij->i", sums, sums), far_sum, far_count, duration)

    def __len__(self) -> int:
        return len(self.counts)

    def subset(self, mask: np.ndarray) -> Items:
        return Items(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    @property
    def unit(self) -> np.ndarray:
        return _normalize(self.sums)


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


@dataclass
class Clustering:
    labels: np.ndarray  # (n,) int, 0..k-1
    centroids: np.ndarray  # (k, dim), unit length


# -- separation -------------------------------------------------------------------
def separation(items: Items, labels: np.ndarray) -> np.ndarray:
    """(k, k) within-minus-cross similarity for every pair of clusters."""
    k = int(labels.max()) + 1
    onehot = np.zeros((k, len(items)))
    onehot[labels, np.arange(len(items))] = 1.0
    s = onehot @ items.sums
    n = onehot @ items.counts
    pairs_sum = (np.einsum("ij,ij->i", s, s) - onehot @ items.self_dot) / 2 + onehot @ items.far_sum
    pairs_cnt = (n**2 - onehot @ items.counts**2) / 2 + onehot @ items.far_count
    with np.errstate(invalid="ignore", divide="ignore"):
        within = np.where(pairs_cnt > 0, pairs_sum / np.maximum(pairs_cnt, 1), np.nan)
    cross = (s @ s.T) / np.maximum(np.outer(n, n), 1)
    known = within[~np.isnan(within)]
    fallback = float(np.median(known)) if known.size else float(np.max(cross))
    w = np.where(np.isnan(within), fallback, within)
    sep = (w[:, None] + w[None, :]) / 2 - cross
    np.fill_diagonal(sep, np.inf)
    return sep


# -- splitting -------------------------------------------------------------------
def _kmeans(x: np.ndarray, k: int, weights: np.ndarray, n_init: int = 8, seed: int = 0) -> np.ndarray:
    """Weighted Euclidean k-means with k-means++ seeding; a fixed seed keeps it deterministic."""
    rng = np.random.default_rng(seed)
    best_cost, best_labels = np.inf, np.zeros(len(x), int)
    p_w = weights / weights.sum()
    for _ in range(n_init):
        centres = [x[rng.choice(len(x), p=p_w)]]
        for _j in range(1, k):
            d2 = np.min(((x[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1) * weights
            centres.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))])
        c = np.array(centres)
        for _it in range(100):
            labels = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
            new = np.array([np.average(x[labels == j], axis=0, weights=weights[labels == j])
                            if np.any(labels == j) else c[j] for j in range(k)])  # fmt: skip
            if np.allclose(new, c):
                break
            c = new
        cost = float((((x - c[labels]) ** 2).sum(-1) * weights).sum())
        if cost < best_cost - 1e-12:
            best_cost, best_labels = cost, labels
    return best_labels


def _refine(x: np.ndarray, labels: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Cosine k-means from a starting partition: each item to its nearest speaker centroid."""
    for _ in range(30):
        c = _centroids(x, labels, weights, k)
        new = np.argmax(x @ c.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return _compact(labels)


def _centroids(x: np.ndarray, labels: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    c = np.zeros((k, x.shape[1]))
    np.add.at(c, labels, x * weights[:, None])
    return _normalize(c)


def _compact(labels: np.ndarray) -> np.ndarray:
    _, inv = np.unique(labels, return_inverse=True)
    return inv.reshape(-1)


def cluster(
    items: Items,
    *,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = MAX_SPEAKERS,
    left_out_s: float = 0.0,
) -> Clustering:
    """Speaker label per item (a window or a piece of windows), and the speakers' unit centroids.

    `left_out_s`: speech of the same recording kept out of the items (windows that mix two voices,
    see diarize). It is still speech: a part's share of it, which makes a sliver, is taken over the
    items and it, so leaving windows out makes no small part a speaker."""
    n = len(items)
    if n == 0:
        return Clustering(np.zeros(0, int), np.zeros((0, items.sums.shape[1])))
    if num_speakers is not None:
        min_speakers = max_speakers = num_speakers
    # Short items take part: in a meeting, some people only ever say a few
    # words between pauses. Past MAX_ITEMS items (~1 hour of speech) speakers are found on an even
    # subsample, which bounds the time; every item then joins its nearest speaker.
    solid = np.arange(n)
    if len(solid) > MAX_ITEMS:
        solid = solid[np.linspace(0, len(solid) - 1, MAX_ITEMS).round().astype(int)]
    base = items.subset(solid)
    share_of = 1.0 + left_out_s / max(float(items.duration.sum()), 1e-9)  # the items' speech -> all of it
    labels = _speakers(base, min_speakers, max_speakers, share_of)
    x, w = items.unit, np.maximum(items.duration, 1e-3)
    k = int(labels.max()) + 1
    start = np.argmax(x @ _centroids(base.unit, labels, w[solid], k).T, axis=1)
    start[solid] = labels
    labels = _refine(x, start, w, k)
    k = int(labels.max()) + 1
    return Clustering(labels, _centroids(x, labels, w, k))


def _is_sliver(duration: float, total: float) -> bool:
    return duration < SLIVER_MIN_S or (duration < SLIVER_SHARE * total and duration < SLIVER_MAX_S)


def _main_axis(centred: np.ndarray, w: np.ndarray, steps: int = 60) -> np.ndarray:
    """Leading eigenvector of the weighted covariance by power iteration.

    Matrix-vector products only: LAPACK's threaded eigen-solvers stall for
    up to a second when another process holds the other core.
    """
    cov = centred.T @ (centred * w[:, None])
    v = cov[int(np.argmax(np.diag(cov)))].copy()
    for _ in range(steps):
        nv = cov @ v
        norm = np.linalg.norm(nv)
        if norm < 1e-12:
            break
        v = nv / norm
    return v


@dataclass
class _Split:
    separation: float
    margin: float  # separation beyond what this split needs to count; < 0: not a new speaker
    second: np.ndarray  # mask over the cluster's members


def _needed(items: Items, part_a: np.ndarray, part_b: np.ndarray, total: float) -> float:
    """Separation a split needs: more for parts heard in few windows, unreachable for slivers."""
    if any(_is_sliver(float(items.duration[p].sum()), total) for p in (part_a, part_b)):
        return np.inf
    smaller = min(items.counts[part_a].sum(), items.counts[part_b].sum())
    return SMALL_SEPARATION if smaller < SMALL_WINDOWS else MIN_SEPARATION + FEW_WINDOWS / float(np.sqrt(smaller))


def _best_split(items: Items, members: np.ndarray, total: float) -> _Split | None:
    """The split of one cluster in two that counts most clearly (else the most separated one)."""
    if len(members) < 2:
        return None
    sub = items.subset(members)
    x, w = sub.unit, np.maximum(sub.duration, 1e-3)
    # Proposals: 2-means weighted by duration and unweighted, and the sign of
    # the main axis of variation (what a spectral split amounts to when there
    # is one clear cut).
    centred = x - np.average(x, axis=0, weights=w)
    proposals = [_kmeans(x, 2, w), _kmeans(x, 2, np.ones(len(x))), (centred @ _main_axis(centred, w) > 0).astype(int)]
    best: _Split | None = None
    for start in proposals:
        labels = _refine(x, start, w, 2)
        if labels.max() < 1:
            continue
        sep = float(separation(sub, labels)[0, 1])
        margin = sep - _needed(items, members[labels == 0], members[labels == 1], total)
        split = _Split(sep, margin, labels == 1)
        if best is None or (split.margin, split.separation) > (best.margin, best.separation):
            best = split
    return best


def _speakers(items: Items, min_speakers: int, max_speakers: int, share_of: float = 1.0) -> np.ndarray:
    """Split clusters in two while the halves are told apart, clearest split first (a part's share
    of the speech is over `share_of` times the items')."""
    n = len(items)
    x, w = items.unit, np.maximum(items.duration, 1e-3)
    hi = max(1, min(max_speakers, n))
    lo = max(1, min(min_speakers, hi))
    total = float(items.duration.sum()) * share_of
    labels = np.zeros(n, int)
    cache: dict[bytes, _Split | None] = {}
    while int(labels.max()) + 1 < hi:
        k = int(labels.max()) + 1
        forced = k < lo
        best: tuple[tuple[float, float], np.ndarray] | None = None
        for c in range(k):
            members = np.flatnonzero(labels == c)
            key = members.tobytes()
            if key not in cache:
                cache[key] = _best_split(items, members, total)
            split = cache[key]
            if split is None or (split.margin < 0 and not forced):
                continue
            rank = (split.margin, split.separation) if not forced else (split.separation, split.margin)
            if best is None or rank > best[0]:
                best = (rank, members[split.second])
        if best is None:
            break
        labels = labels.copy()
        labels[best[1]] = k
        labels = _refine(x, labels, w, k + 1)
    return labels
