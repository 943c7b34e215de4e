"""Baum–Welch for a categorical HMM, vectorised over all sequences at once (numpy only).

The same EM as hmmlearn's `CategoricalHMM(implementation="scaling")`, with its default flat
priors, step for step: the same random initialisation from a legacy `RandomState`, the
same scaled forward–backward (each forward row normalised to sum 1; a row summing to less
than 1e-300 is a breakdown), the same expected counts and M-step (zero start and transition
probabilities stay zero; all-zero rows stay zero) and the same stopping rule (out of
iterations, or an iteration gaining less than `tol`). Only the order of floating-point
sums differs, so fits agree to rounding (tests/test_hmm_em.py checks against hmmlearn).

Why: hmmlearn runs forward–backward one sequence at a time from Python, so a corpus of
10,000 short items costs 10,000 round trips per iteration. Here sequences are sorted by
length, longest first, and packed time-major (like a PyTorch PackedSequence): the rows of
time step t are the first n_t sequences, those longer than t. Each time step is then one
(n_t, H) @ (H, H) product for all sequences together, with no padding and no masks, and the
Python loop runs (longest sequence) times per pass instead of (number of sequences) times.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

MIN_ROW_SUM = 1e-300  # hmmlearn's threshold: a forward row below this is an underflow


class EMBreakdown(FloatingPointError):
    """The scaled forward pass underflowed: some observed symbol has (almost) no probability."""


def initial_parameters(n_states: int, n_symbols: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """hmmlearn's random initialisation from `np.random.RandomState(seed)`, draw for draw.

    π ~ Dirichlet(1/H, …) (H,), each row of A ~ Dirichlet(1/H, …) (H, H), each row of B
    uniform(0, 1) draws normalised (H, n_symbols); float64.
    """
    random = np.random.RandomState(seed)
    concentration = np.full(n_states, 1.0 / n_states)
    start = random.dirichlet(concentration)
    trans = random.dirichlet(concentration, size=n_states)
    emit = random.rand(n_states, n_symbols)
    emit /= emit.sum(axis=1, keepdims=True)
    return start, trans, emit


class PackedSequences:
    """Sequences of symbol ids packed time-major, longest first, for batched recursions.

    `symbols`: int (N,), the sequences concatenated; `lengths`: int (S,), each ≥ 1, summing
    to N. Row r of every (N, H) lattice is one (sequence, time step): the rows of step t are
    `offsets[t]:offsets[t + 1]`, the sequences longer than t in order of decreasing length,
    so the rows of step t + 1 are a prefix of those of step t.
    """

    def __init__(self, symbols: np.ndarray, lengths: np.ndarray):
        symbols = np.asarray(symbols, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.ndim != 1 or len(lengths) == 0 or lengths.min() < 1 or lengths.sum() != len(symbols):
            raise ValueError("lengths must be positive and sum to the number of symbols")
        order = np.argsort(-lengths, kind="stable")
        first = (np.cumsum(lengths) - lengths)[order]  # where each sorted sequence starts
        longest = int(lengths.max())
        # active[t] = how many sequences are longer than t.
        active = len(lengths) - np.cumsum(np.bincount(lengths, minlength=longest + 1))[:longest]
        self.active = active
        self.offsets = np.concatenate([[0], np.cumsum(active)])
        step = np.repeat(np.arange(longest), active)  # time step of each row
        rank = np.arange(len(symbols)) - self.offsets[step]  # the row's sequence, in sorted order
        self.symbols = symbols[first[rank] + step]
        self.n_sequences, self.n_rows, self.longest = len(lengths), len(symbols), longest
        # Per step t: (first row, end row, how many of its sequences go on to t + 1), as ints.
        self.bounds = list(zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist(), [*active[1:].tolist(), 0]))

    def workspace(self, n_states: int) -> Workspace:
        """Buffers for `e_step` with `n_states` hidden states (see `Workspace`)."""
        return Workspace(self, n_states)


class Workspace:
    """What one E-step writes, allocated once per fit: reusing it across iterations saves
    allocating (and page-faulting) the lattices every time.

    `frame`, `fwd`, `beta`: float64 (N, H) (`beta` is 1 on the rows where a sequence ends,
    and stays so); `sums`, `logs`: float64 (N,), the forward normalisers and their logs;
    `cells`: int64 (N·H,), the bin symbol·H + state of each lattice entry, for summing
    posteriors per (symbol, state); `before`: int64 (N - n_0,), the row one step earlier
    of every row after step 0 (n_0 = `first`, the rows of step 0), and `previous`
    (N - n_0, H) the forward rows gathered there, so that ξ is one matrix product instead
    of one per time step. `forward_steps` / `backward_steps` are the per-step slices as
    views, made once: building ~10 slices per step per iteration costs ~1 µs each.
    """

    def __init__(self, packed: PackedSequences, n_states: int):
        n_rows, bounds = packed.n_rows, packed.bounds
        self.first = first = bounds[0][1]
        rows = (n_rows, n_states)
        self.frame, self.fwd, self.beta = np.empty(rows), np.empty(rows), np.empty(rows)
        self.sums, self.logs = np.empty(n_rows), np.empty(n_rows)
        self.cells = (packed.symbols[:, None] * n_states + np.arange(n_states)).ravel()
        for lo, hi, going_on in bounds:
            self.beta[lo + going_on : hi] = 1.0  # the unscaled backward message where a sequence ends
        step = np.repeat(np.arange(packed.longest), packed.active)[first:]
        self.before = np.arange(first, n_rows) - packed.active[step - 1]  # row r of step t+1 came from r - n_t
        self.previous = np.empty((n_rows - first, n_states))
        fwd, frame, beta, sums = self.fwd, self.frame, self.beta, self.sums
        scratch = np.empty((first, n_states))  # the unnormalised forward rows of one step
        # Forward step t: (fwd rows of t - 1 that go on, fwd rows of t, frame of t, sums of t
        # and as a column, scratch rows).
        self.forward_steps = [
            (
                fwd[before : before + hi - lo],
                fwd[lo:hi],
                frame[lo:hi],
                sums[lo:hi],
                sums[lo:hi, None],
                scratch[: hi - lo],
            )
            for (before, _, _), (lo, hi, _) in zip(bounds, bounds[1:])
        ]
        # Backward step t, last first: (frame of t + 1, beta and frame of the rows of t that go on).
        self.backward_steps = [
            (frame[hi : hi + going_on], beta[lo : lo + going_on], frame[lo : lo + going_on])
            for lo, hi, going_on in reversed(bounds[:-1])
        ]


@dataclass
class EStep:
    """Expected counts of one E-step: `start` (H,), `trans` (H, H), `emit` (H, F) and
    `log_likelihood`, the total natural-log likelihood of all sequences (nats)."""

    start: np.ndarray
    trans: np.ndarray
    emit: np.ndarray
    log_likelihood: float


def e_step(
    packed: PackedSequences, start: np.ndarray, trans: np.ndarray, emit: np.ndarray, work: Workspace | None = None
) -> EStep:
    """Scaled forward–backward over every sequence at once; raises `EMBreakdown` on underflow.

    `start` (H,), `trans` (H, H), `emit` (H, F) float64; `work` from `packed.workspace(H)`
    (made here if None). Every symbol must be in 0..F-1 (not checked here: `baum_welch`
    checks, and the gathers clip).
    """
    n_states, n_symbols = emit.shape
    work = work if work is not None else packed.workspace(n_states)
    frame, fwd, sums, first = work.frame, work.fwd, work.sums, work.first
    matmul, multiply, divide = np.matmul, np.multiply, np.divide  # local names: the loops call them ~2000 times
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # (N, H): B[h, x] of each row's symbol. mode="clip" because take's default
        # mode="raise" copies through a buffer when given `out` (4x slower here).
        np.take(np.ascontiguousarray(emit.T), packed.symbols, axis=0, out=frame, mode="clip")
        # Forward: fwd[t] = normalise((fwd[t-1] @ A) * B[:, x_t]); sums[t] are the normalisers.
        # Row sums are products with a vector of ones: numpy's sum along a 16-wide axis is
        # ~7x slower than the BLAS matrix-vector product. Each step also turns its frame
        # rows into B / sums (what the backward pass needs) while they are in cache, and
        # then fwd[t] = (fwd[t-1] @ A) * (B / sums) is a same-shape product: dividing by a
        # broadcast column is the slow kind, and this way it is done once instead of twice.
        ones = np.ones(n_states)
        multiply(start, frame[:first], out=fwd[:first])
        matmul(fwd[:first], ones, out=sums[:first])
        frame[:first] /= sums[:first, None]
        multiply(start, frame[:first], out=fwd[:first])
        for previous, row, emitted, total, column, unnormalised in work.forward_steps:
            matmul(previous, trans, out=row)
            multiply(row, emitted, out=unnormalised)
            matmul(unnormalised, ones, out=total)
            divide(emitted, column, out=emitted)
            multiply(row, emitted, out=row)
        if not sums.min() >= MIN_ROW_SUM:  # also catches NaN
            raise EMBreakdown("the forward pass underflowed (a symbol has no probability under the current parameters)")
        # Backward, hmmlearn's scaling: bwd[t] = (A @ (B[:, x_t+1] * bwd[t+1])) / sums[t], and
        # 1 / sums[t] where the sequence ends. Kept here unscaled, beta[t] = bwd[t] * sums[t]
        # (1 at the ends, preset in the workspace), and `frame`, now B / sums, becomes
        # B[:, x_t] * bwd[t] = B / sums * beta step by step (at the ends it already is).
        beta = work.beta
        trans_t = np.ascontiguousarray(trans.T)  # a transposed view makes BLAS copy it, every step
        for following, going_on, emitted in work.backward_steps:
            matmul(following, trans_t, out=going_on)
            multiply(emitted, going_on, out=emitted)
        # ξ summed over time, Σ_t fwd[t, i] A[i, j] B[j, x_t+1] bwd[t+1, j], is A * Σ_t
        # fwd[t]ᵀ (B bwd)[t+1]: every row after step 0 with its predecessor's forward row,
        # so one (H, N - n_0) @ (N - n_0, H) product (~1.5x faster than one per step).
        np.take(fwd, work.before, axis=0, out=work.previous, mode="clip")
        pairs = work.previous.T @ frame[first:]
        # γ = fwd * bwd normalised per row is fwd * beta: Σ_h fwd[t] beta[t] = P(x) / P(x) = 1
        # in exact arithmetic, so unlike hmmlearn this does not renormalise (rounding only).
        posterior = multiply(fwd, beta, out=frame)
        emit_counts = np.bincount(work.cells, weights=posterior.ravel(), minlength=n_symbols * n_states)
        log_likelihood = float(np.log(sums, out=work.logs).sum())
    return EStep(
        posterior[:first].sum(axis=0),
        trans * pairs,
        emit_counts.reshape(n_symbols, n_states).T.copy(),
        log_likelihood,
    )


def m_step(counts: EStep, start: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """hmmlearn's M-step with flat priors: counts normalised; zero π and A entries stay zero,
    all-zero rows of A and B stay zero (π is divided by its sum unguarded, as hmmlearn does)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        new_start = np.where(start == 0, 0.0, np.maximum(counts.start, 0.0))
        new_start = new_start / new_start.sum()
    new_trans = np.where(trans == 0, 0.0, np.maximum(counts.trans, 0.0))
    new_emit = np.maximum(counts.emit, 0.0)
    for matrix in (new_trans, new_emit):
        total = matrix.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        matrix /= total
    return new_start, new_trans, new_emit


@dataclass
class EMResult:
    """A finished EM run: the parameters after the last M-step, `history` (the training
    log-likelihood in nats at each E-step, before its M-step), `converged_by_tol`."""

    start: np.ndarray
    trans: np.ndarray
    emit: np.ndarray
    history: list[float]
    converged_by_tol: bool


def baum_welch(
    symbols: np.ndarray,
    lengths: np.ndarray,
    start: np.ndarray,
    trans: np.ndarray,
    emit: np.ndarray,
    n_iter: int,
    tol: float,
    report=None,
) -> EMResult:
    """Run EM from the given parameters, as hmmlearn's `fit` does after its initialisation.

    `symbols` int (N,) in 0..F-1 and `lengths` int (S,) as hmmlearn takes them; `start` (H,),
    `trans` (H, H), `emit` (H, F) float64. Stops after `n_iter` iterations or once one gains
    less than `tol` nats. `report(iteration, log_likelihood)` is called after each (1-based).
    Raises `EMBreakdown` when the forward pass underflows.
    """
    packed = PackedSequences(symbols, lengths)
    start, trans, emit = (np.array(p, dtype=np.float64) for p in (start, trans, emit))
    if packed.symbols.min() < 0 or packed.symbols.max() >= emit.shape[1]:
        raise ValueError(f"symbols must be in 0..{emit.shape[1] - 1}")
    work = packed.workspace(len(start))
    history: list[float] = []
    by_tol = False
    with single_threaded_blas():
        for iteration in range(1, n_iter + 1):
            counts = e_step(packed, start, trans, emit, work)
            start, trans, emit = m_step(counts, start, trans)
            history.append(counts.log_likelihood)
            if report is not None:
                report(iteration, counts.log_likelihood)
            by_tol = len(history) >= 2 and history[-1] - history[-2] < tol
            if by_tol:
                break
    return EMResult(start, trans, emit, history, by_tol)


@contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread inside the block, when threadpoolctl is installed.

    The E-step makes thousands of tiny (n, H) @ (H, H) products; a multithreaded OpenBLAS
    splits them across threads that then wait on each other, and on a machine whose cores
    are busy that made a 16-state fit 3x slower and erratic (measured: a 5000 x 16 product
    took 10 ms threaded, 0.17 ms on one thread). Without threadpoolctl nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only speed depends on it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
