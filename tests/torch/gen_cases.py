#!/usr/bin/env python3
"""Generate tests/torch/cases.rs: PyTorch (CPU, float32) ground truth for nnpool.

Usage (from the repository root):

    $HOME/.cache/nnpool-peers/venv/bin/python tests/torch/gen_cases.py

The venv comes from /work/shared/peers/setup.sh (torch 2.15.0). The output is
deterministic: every input comes from a seeded `random.Random` (not from torch's
RNG, so the inputs do not depend on the torch version) or is written out by hand
as f32 bit patterns, and torch runs single-threaded.

Ops and the PyTorch call used for each:
    max           F.max_pool2d(x, k, s, p, d, ceil_mode, return_indices=True)
                  (the values are also checked against return_indices=False)
    avg           F.avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, divisor_override)
    global_avg    x.mean(dim=(2, 3), keepdim=True)
    global_max    F.adaptive_max_pool2d(x, 1)  (values only; checked against x.amax)
    adaptive_avg  F.adaptive_avg_pool2d(x, output_size)
    adaptive_max  F.adaptive_max_pool2d(x, output_size, return_indices=True)
"""

import os
import random
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases.rs")

NAN = 0x7FC00000
NNAN = 0xFFC00000
INF = 0x7F800000
NINF = 0xFF800000
PZ = 0x00000000
NZ = 0x80000000


def f2b(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


def bits_tensor(bits, shape):
    a = np.array(bits, dtype=np.uint32).view(np.float32).reshape(shape)
    return torch.from_numpy(a.copy())


def tensor_bits(t):
    a = t.detach().contiguous().numpy().astype(np.float32, copy=False)
    return [int(b) for b in a.reshape(-1).view(np.uint32)]


def floats(vals):
    """Python floats / ints -> f32 bit patterns (ints given as 'b:0x...' strings pass through)."""
    out = []
    for v in vals:
        if isinstance(v, str):
            out.append(int(v, 16))
        else:
            out.append(f2b(float(v)))
    return out


CASES = []
NAMES = set()


def pair(v):
    if isinstance(v, (tuple, list)):
        return [int(v[0]), int(v[1])]
    return [int(v), int(v)]


def add(name, op, shape, input_bits, kernel=(0, 0), stride=(0, 0), padding=(0, 0),
        dilation=None, ceil_mode=False, count_include_pad=True, divisor_override=None,
        output_size=(0, 0)):
    assert name not in NAMES, name
    NAMES.add(name)
    shape = list(shape)
    n_el = shape[0] * shape[1] * shape[2] * shape[3]
    assert len(input_bits) == n_el, (name, len(input_bits), n_el)
    x = bits_tensor(input_bits, shape)
    k = pair(kernel)
    s = pair(stride)
    p = pair(padding)
    if dilation is None:
        dilation = (1, 1) if op in ("max", "avg") else (0, 0)
    d = pair(dilation)
    osz = pair(output_size)
    indices = []
    try:
        if op == "max":
            y, idx = F.max_pool2d(x, k, s, p, d, ceil_mode=ceil_mode, return_indices=True)
            y2 = F.max_pool2d(x, k, s, p, d, ceil_mode=ceil_mode)
            assert tensor_bits(y) == tensor_bits(y2), name
            indices = [int(i) for i in idx.reshape(-1).tolist()]
        elif op == "avg":
            y = F.avg_pool2d(x, k, s, p, ceil_mode=ceil_mode,
                             count_include_pad=count_include_pad,
                             divisor_override=divisor_override)
        elif op == "global_avg":
            y = x.mean(dim=(2, 3), keepdim=True)
        elif op == "global_max":
            y = F.adaptive_max_pool2d(x, 1)
            if y.numel() > 0:
                y2 = x.amax(dim=(2, 3), keepdim=True)
                assert torch.equal(torch.isnan(y), torch.isnan(y2)), name
                assert torch.equal(torch.nan_to_num(y), torch.nan_to_num(y2)), name
        elif op == "adaptive_avg":
            y = F.adaptive_avg_pool2d(x, osz)
        elif op == "adaptive_max":
            y, idx = F.adaptive_max_pool2d(x, osz, return_indices=True)
            indices = [int(i) for i in idx.reshape(-1).tolist()]
        else:
            raise ValueError(op)
        out_shape = list(y.shape)
        output = tensor_bits(y)
        error = ""
    except RuntimeError as e:
        out_shape = None
        output = []
        indices = []
        error = str(e).splitlines()[0]
    CASES.append(dict(
        name=name, op=op, shape=shape, kernel=k, stride=s,
        padding=[p[0], p[1], p[0], p[1]], dilation=d, ceil_mode=ceil_mode,
        count_include_pad=count_include_pad, divisor_override=divisor_override,
        output_size=osz, input=input_bits, out_shape=out_shape, output=output,
        indices=indices, error=error))


def seq(n, start=1):
    return floats(range(start, start + n))


RNG = random.Random(20240613)


def rand_bits(n, kind="uniform"):
    if kind == "uniform":
        return floats(RNG.uniform(-10.0, 10.0) for _ in range(n))
    if kind == "small_int":  # many ties
        return floats(RNG.randint(-3, 3) for _ in range(n))
    if kind == "positive":
        return floats(RNG.uniform(0.0, 100.0) for _ in range(n))
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# 1. Textbook 4x4 (values 1..16), 2x2 kernel, stride 2.
# ---------------------------------------------------------------------------
T16 = seq(16)
add("textbook_4x4_max_k2_s2", "max", (1, 1, 4, 4), T16, 2, 2)
add("textbook_4x4_avg_k2_s2", "avg", (1, 1, 4, 4), T16, 2, 2)
add("textbook_4x4_global_avg", "global_avg", (1, 1, 4, 4), T16)
add("textbook_4x4_global_max", "global_max", (1, 1, 4, 4), T16)
add("textbook_4x4_adaptive_avg_2x2", "adaptive_avg", (1, 1, 4, 4), T16, output_size=2)
add("textbook_4x4_adaptive_max_2x2", "adaptive_max", (1, 1, 4, 4), T16, output_size=2)
add("textbook_4x4_max_k3_s1", "max", (1, 1, 4, 4), T16, 3, 1)
add("textbook_4x4_avg_k3_s1_p1", "avg", (1, 1, 4, 4), T16, 3, 1, 1)
add("textbook_4x4_avg_k3_s1_p1_nopad", "avg", (1, 1, 4, 4), T16, 3, 1, 1,
    count_include_pad=False)
add("textbook_2x3x4x4_max_k2_s2", "max", (2, 3, 4, 4), seq(96), 2, 2)
add("textbook_2x3x4x4_avg_k2_s2", "avg", (2, 3, 4, 4), seq(96), 2, 2)

# ---------------------------------------------------------------------------
# 2. Padding variants (symmetric, per-axis "asymmetric" like (1, 0)).
# ---------------------------------------------------------------------------
for op in ("max", "avg"):
    for (k, p) in [(2, 1), (3, 1), (4, 2), (5, 2), (5, 1), ((3, 3), (1, 0)), ((3, 3), (0, 1)),
                   ((2, 4), (1, 2)), ((4, 2), (2, 0)), ((5, 3), (2, 1))]:
        kk, pp = pair(k), pair(p)
        name = f"pad_{op}_k{kk[0]}x{kk[1]}_p{pp[0]}x{pp[1]}_s1"
        add(name, op, (1, 1, 6, 7), seq(42), k, 1, p)
        if op == "avg":
            add(name + "_nopad", op, (1, 1, 6, 7), seq(42), k, 1, p, count_include_pad=False)

# ---------------------------------------------------------------------------
# 3. Dilation (max only), incl. windows lying entirely in padding.
# ---------------------------------------------------------------------------
for d in (1, 2, 3):
    for k in (2, 3):
        for p in range(0, k // 2 + 1):
            add(f"dil_max_k{k}_d{d}_p{p}_s1_7x8", "max", (1, 1, 7, 8), rand_bits(56), k, 1, p, d)
add("dil_max_k3_d(2,3)_p(1,0)_s(2,1)", "max", (1, 2, 9, 10), rand_bits(180), 3, (2, 1), (1, 0), (2, 3))
add("dil_max_k(2,3)_d(3,1)_p(1,1)_s(1,2)_ceil", "max", (1, 1, 8, 9), rand_bits(72), (2, 3), (1, 2),
    (1, 1), (3, 1), ceil_mode=True)
# Windows entirely in padding: PyTorch yields -inf and an index that is
# (first tap row >= 0)*W + (first tap col >= 0), possibly outside the plane.
add("dil_allpad_1x1_k2_p1_d2", "max", (1, 1, 1, 1), floats([5]), 2, 1, 1, 2)
add("dil_allpad_1x1_k2_p1_d3", "max", (1, 1, 1, 1), floats([5]), 2, 1, 1, 3)  # O = 0 -> error
add("dil_allpad_H2_k(2,1)_p(1,0)_d(3,1)", "max", (1, 1, 2, 1), floats([5, 6]), (2, 1), 1, (1, 0), (3, 1))
add("dil_allpad_2x2_k2_p1_d3", "max", (1, 1, 2, 2), floats([5, 6, 7, 8]), 2, 1, 1, 3)
add("dil_allpad_2x3_k2_p1_d3", "max", (1, 1, 2, 3), seq(6), 2, 1, 1, 3)
add("dil_allpad_rows_H2_W3_k(2,2)_p1_d(3,1)", "max", (1, 1, 2, 3), seq(6), 2, 1, 1, (3, 1))
add("dil_allpad_ceil_1x1_k2_p1_d2_s2", "max", (1, 1, 1, 1), floats([5]), 2, 2, 1, 2, ceil_mode=True)
add("dil_allpad_3x3_k2_p1_d4_s1", "max", (1, 1, 3, 3), seq(9), 2, 1, 1, 4)
# Only the columns are all padding: the index (row*W + first col >= 0) aliases an element of
# the next row (index 2 = element (1, 0) = 3.0) while the value is -inf.
add("dil_allpad_cols_alias_3x2_k(1,2)_p(0,1)_d(1,3)", "max", (1, 1, 3, 2), seq(6), (1, 2), 1,
    (0, 1), (1, 3))

# ---------------------------------------------------------------------------
# 4. ceil_mode, incl. the "last window would start in the right padding" drop.
# ---------------------------------------------------------------------------
for op in ("max", "avg"):
    for ceil in (False, True):
        c = "ceil" if ceil else "floor"
        # L=5, k=2, s=2, p=1: ceil gives 4 before the check, (4-1)*2=6 >= 5+1 -> 3.
        add(f"ceil_drop_{op}_L5_k2_s2_p1_{c}", op, (1, 1, 5, 5), seq(25), 2, 2, 1, ceil_mode=ceil)
        add(f"ceil_{op}_L5_k2_s2_p0_{c}", op, (1, 1, 5, 5), seq(25), 2, 2, 0, ceil_mode=ceil)
        add(f"ceil_{op}_L6_k3_s2_p0_{c}", op, (1, 1, 6, 6), seq(36), 3, 2, 0, ceil_mode=ceil)
        add(f"ceil_{op}_L4_k3_s2_p1_{c}", op, (1, 1, 4, 4), seq(16), 3, 2, 1, ceil_mode=ceil)
        add(f"ceil_{op}_L7x5_k3x2_s3x2_p1x1_{c}", op, (1, 1, 7, 5), seq(35), (3, 2), (3, 2), (1, 1),
            ceil_mode=ceil)
        add(f"ceil_drop_{op}_L3_k3_s3_p1_{c}", op, (1, 1, 3, 3), seq(9), 3, 3, 1, ceil_mode=ceil)
        add(f"ceil_{op}_L8_k2_s3_p1_{c}", op, (1, 1, 8, 8), seq(64), 2, 3, 1, ceil_mode=ceil)
        add(f"ceil_{op}_L10_k4_s3_p2_{c}", op, (1, 1, 10, 10), seq(100), 4, 3, 2, ceil_mode=ceil)

# ---------------------------------------------------------------------------
# 5. count_include_pad with ceil windows overhanging the padded extent.
# ---------------------------------------------------------------------------
for cip in (True, False):
    tag = "cip" if cip else "nocip"
    # L=4, k=3, s=2, p=1, ceil: windows start -1, 1, 3; last [3, 6) is clipped to the
    # padded extent [.., 5) -> divisor 2 per axis (4 total), not 9.
    add(f"divisor_{tag}_L4_k3_s2_p1_ceil", "avg", (1, 1, 4, 4), floats([1] * 16), 3, 2, 1,
        ceil_mode=True, count_include_pad=cip)
    add(f"divisor_{tag}_L4_k3_s2_p1_ceil_seq", "avg", (1, 1, 4, 4), seq(16), 3, 2, 1,
        ceil_mode=True, count_include_pad=cip)
    add(f"divisor_{tag}_L5_k2_s2_p0_ceil", "avg", (1, 1, 5, 5), floats([1] * 25), 2, 2, 0,
        ceil_mode=True, count_include_pad=cip)
    add(f"divisor_{tag}_L5x6_k3x2_s2x2_p1x1_ceil", "avg", (1, 1, 5, 6), floats([1] * 30), (3, 2),
        (2, 2), (1, 1), ceil_mode=True, count_include_pad=cip)
    add(f"divisor_{tag}_L6_k4_s3_p2_ceil", "avg", (1, 1, 6, 6), seq(36), 4, 3, 2,
        ceil_mode=True, count_include_pad=cip)
    add(f"divisor_{tag}_L7_k3_s3_p1_ceil_ones", "avg", (1, 1, 7, 7), floats([1] * 49), 3, 3, 1,
        ceil_mode=True, count_include_pad=cip)

# ---------------------------------------------------------------------------
# 6. divisor_override.
# ---------------------------------------------------------------------------
for dv in (1, 3, 7, 100):
    for cip in (True, False):
        add(f"divisor_override_{dv}_k3_s2_p1_{'cip' if cip else 'nocip'}", "avg", (1, 1, 5, 5),
            seq(25), 3, 2, 1, count_include_pad=cip, divisor_override=dv)
add("divisor_override_3_k2_s2_ceil", "avg", (1, 1, 5, 5), seq(25), 2, 2, 0, ceil_mode=True,
    divisor_override=3)
add("divisor_override_2_k2_s1_rand", "avg", (2, 2, 5, 6), rand_bits(120), 2, 1, divisor_override=2)

# ---------------------------------------------------------------------------
# 7. Adaptive: uneven bins, output larger than input, global via output 1.
# ---------------------------------------------------------------------------
for op in ("adaptive_avg", "adaptive_max"):
    for (hw, o) in [((5, 5), (3, 3)), ((7, 5), (3, 2)), ((10, 7), (4, 3)), ((3, 3), (5, 5)),
                    ((2, 3), (5, 7)), ((1, 1), (3, 2)), ((6, 6), (1, 1)), ((4, 5), (4, 5)),
                    ((13, 13), (7, 7)), ((13, 11), (6, 4)), ((5, 9), (5, 3)), ((9, 4), (2, 8)),
                    ((8, 8), (3, 3)), ((11, 7), (1, 1))]:
        h, w = hw
        add(f"{op}_{h}x{w}_to_{o[0]}x{o[1]}", op, (1, 1, h, w), rand_bits(h * w), output_size=o)
    add(f"{op}_2x3x7x6_to_4x4", op, (2, 3, 7, 6), rand_bits(252), output_size=(4, 4))
    add(f"{op}_ties_6x6_to_4x4", op, (1, 2, 6, 6), rand_bits(72, "small_int"), output_size=(4, 4))
    add(f"{op}_global_via_adaptive_1x2x5x7", op, (1, 2, 5, 7), rand_bits(70), output_size=1)

for op in ("global_avg", "global_max"):
    for shape in [(1, 1, 1, 1), (1, 1, 3, 3), (2, 3, 7, 7), (1, 2, 13, 13), (1, 1, 1, 9),
                  (1, 3, 11, 5)]:
        n = shape[0] * shape[1] * shape[2] * shape[3]
        add(f"{op}_{'x'.join(map(str, shape))}", op, shape, rand_bits(n))
    add(f"{op}_ties_1x2x4x4", op, (1, 2, 4, 4), rand_bits(32, "small_int"))

# ---------------------------------------------------------------------------
# 8. Special values: NaN, +-inf, ties, +-0, -0 averages, overflow, denormals.
# ---------------------------------------------------------------------------
def special(name, vals, shape=(1, 1, 2, 2), ops=("max", "avg", "global_avg", "global_max",
                                                   "adaptive_avg", "adaptive_max"),
            k=None, s=None):
    bits = floats(vals)
    h, w = shape[2], shape[3]
    kk = k if k is not None else (h, w)
    ss = s if s is not None else kk
    for op in ops:
        if op in ("max", "avg"):
            add(f"{name}_{op}", op, shape, bits, kk, ss)
        elif op in ("global_avg", "global_max"):
            add(f"{name}_{op}", op, shape, bits)
        else:
            add(f"{name}_{op}", op, shape, bits, output_size=1)


N_, NN_, I_, NI_ = "0x7fc00000", "0xffc00000", "0x7f800000", "0xff800000"
P0, N0 = "0x00000000", "0x80000000"
special("nan_single", [1, N_, 3, 2])
special("nan_first", [N_, 5, 9, 2])
special("nan_two_last_wins", [N_, 5, N_, 7])
special("nan_three_last_wins", [1, N_, N_, 4, N_, 2], (1, 1, 2, 3))
special("nan_payloads_last_wins", ["0x7fc00001", 3, "0x7fc00002", "0xffc00003"])
special("nan_payloads_after_max", [9, "0x7fc00005", 1, 2])
special("nan_negative", [1, NN_, 3, 2])
special("nan_all", [N_, N_, N_, N_])
special("nan_then_inf", [N_, I_, 1, 2])
special("inf_pos", [1, I_, 3, I_])
special("inf_neg_all", [NI_, NI_, NI_, NI_])
special("inf_neg_and_value", [NI_, NI_, -1e30, NI_])
special("inf_pos_and_neg", [I_, NI_, 1, 2])
special("inf_neg_then_pos", [NI_, 0, I_, 1])
special("ties_equal_first_wins", [3, 7, 7, 7])
special("ties_all_equal", [2, 2, 2, 2])
special("ties_row_major_order", [5, 1, 5, 5], (1, 1, 2, 2))
special("zero_pos_then_neg", [P0, N0, N0, N0])
special("zero_neg_then_pos", [N0, P0, P0, P0])
special("zero_neg_pos_mixed", [N0, P0, N0, P0])
special("zero_with_negatives_pos_first", [-1, P0, -2, N0])
special("zero_with_negatives_neg_first", [-1, N0, -2, P0])
special("zero_all_neg", [N0, N0, N0, N0])
special("zero_all_pos", [P0, P0, P0, P0])
special("overflow_4x1e38", [1e38, 1e38, 1e38, 1e38])
special("overflow_neg_4x1e38", [-1e38, -1e38, -1e38, -1e38])
special("overflow_then_cancel", [3e38, 3e38, -3e38, -3e38])
special("max_finite", ["0x7f7fffff", "0x7f7fffff", "0x7f7ffffe", "0x7f7fffff"])
special("denorm_min", ["0x00000001", "0x00000001", "0x00000001", "0x00000001"])
special("denorm_round", ["0x00000003", P0, P0, P0])
special("denorm_mixed", ["0x007fffff", "0x00000001", "0x80000005", "0x00400000"])
special("denorm_negative", ["0x80000001", "0x80000002", "0x80000003", "0x80000004"])
special("denorm_1e-40", [1e-40, 2e-40, 3e-40, 4e-40])
special("inexact_thirds", [1, 1, 1, 0, 0, 0], (1, 1, 2, 3))
special("inexact_big_small", [1e8, 1, -1e8, 1])
special("nan_3x3_window", [1, N_, 2, 3, 4, N_, 5, 6, 7], (1, 1, 3, 3))

# A negative quotient that underflows to -0.0: PyTorch's NCHW avg_pool2d kernel does
# `out = 0; out += sum / div`, which turns it into +0.0 (channels_last and adaptive_avg keep -0.0).
NEG_DENORM_MIN = "0x80000001"
add("neg_underflow_avg_k2_s2", "avg", (1, 1, 2, 4), floats([NEG_DENORM_MIN, 0, 1, 1, 0, 0, 1, 1]),
    2, 2)
add("neg_underflow_avg_k2_s2_divisor_override3", "avg", (1, 1, 2, 4),
    floats([NEG_DENORM_MIN, 0, 1, 1, 0, 0, 1, 1]), 2, 2, divisor_override=3)
add("neg_underflow_avg_k(1,2)_p(0,1)", "avg", (1, 1, 1, 1), floats([NEG_DENORM_MIN]), (1, 2), 1,
    (0, 1))
add("neg_underflow_adaptive_avg_1x2", "adaptive_avg", (1, 1, 2, 4),
    floats([NEG_DENORM_MIN, 0, 1, 1, 0, 0, 1, 1]), output_size=(1, 2))
# Adaptive average divides twice (sum / kh / kw): here sum/3/3 != sum/9 in f32.
_x = [0.0] * 36
_x[0] = float(np.float32(7) * np.float32(0.1))
add("adaptive_avg_divides_twice_6x6_to_2x2", "adaptive_avg", (1, 1, 6, 6), floats(_x),
    output_size=2)

# Special values inside a larger input, with overlapping windows and padding.
sv = floats([1, N_, 3, I_, NI_, 0, N0, 2, 1e38, 1e38, 1e38, 1e38, -5, N_, "0x00000001", 7,
             P0, N0, 4, 4, 4, NI_, 9, N_, 2])
for p in (0, 1):
    add(f"special_5x5_max_k3_s1_p{p}", "max", (1, 1, 5, 5), sv, 3, 1, p)
    add(f"special_5x5_avg_k3_s1_p{p}", "avg", (1, 1, 5, 5), sv, 3, 1, p)
    add(f"special_5x5_avg_k3_s1_p{p}_nopad", "avg", (1, 1, 5, 5), sv, 3, 1, p,
        count_include_pad=False)
add("special_5x5_max_k2_s2_p1_d2_ceil", "max", (1, 1, 5, 5), sv, 2, 2, 1, 2, ceil_mode=True)
add("special_5x5_adaptive_max_3x3", "adaptive_max", (1, 1, 5, 5), sv, output_size=3)
add("special_5x5_adaptive_avg_3x3", "adaptive_avg", (1, 1, 5, 5), sv, output_size=3)
# Padding acts as -inf for max: a padded window whose in-bounds values are all -inf
# returns -inf with the first in-bounds index.
add("pad_neg_inf_max_k3_s1_p1", "max", (1, 1, 3, 3), floats([NI_] * 9), 3, 1, 1)
add("pad_neg_inf_max_k2_s2_p1_ceil", "max", (1, 1, 3, 3), floats([NI_] * 9), 2, 2, 1,
    ceil_mode=True)
add("pad_negative_values_max_k3_s1_p1", "max", (1, 1, 3, 3), seq(9, -20), 3, 1, 1)
add("pad_negative_values_avg_k3_s1_p1", "avg", (1, 1, 3, 3), seq(9, -20), 3, 1, 1)
add("pad_all_neg_zero_avg_k3_s1_p1", "avg", (1, 1, 3, 3), floats([N0] * 9), 3, 1, 1)
add("pad_all_neg_zero_avg_k3_s1_p1_nopad", "avg", (1, 1, 3, 3), floats([N0] * 9), 3, 1, 1,
    count_include_pad=False)
add("pad_neg_zero_max_k3_s1_p1", "max", (1, 1, 3, 3), floats([N0] * 9), 3, 1, 1)

# ---------------------------------------------------------------------------
# 9. Seeded random sweeps over kernel / stride / padding / dilation / ceil / count_include_pad.
# ---------------------------------------------------------------------------
KERNELS = [(1, 1), (2, 2), (3, 3), (2, 3), (3, 2), (4, 4), (5, 3), (1, 4)]
STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1), (3, 3)]


def pick_shape(eff_h, eff_w):
    if RNG.random() < 0.2:
        n, c = 2, 3
        hi = 7
    else:
        n, c = RNG.choice([(1, 1), (1, 1), (1, 2), (2, 1)])
        hi = 13
    h = RNG.randint(min(eff_h, hi), hi)
    w = RNG.randint(min(eff_w, hi), hi)
    return (n, c, h, w)


i = 0
for k in KERNELS:
    for s in STRIDES:
        for variant in range(2):
            # max
            pmax = (k[0] // 2, k[1] // 2)
            p = (RNG.randint(0, pmax[0]), RNG.randint(0, pmax[1]))
            d = (RNG.randint(1, 3), RNG.randint(1, 3))
            ceil = RNG.random() < 0.5
            eff = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
            shape = pick_shape(max(1, eff[0] - 2 * p[0]), max(1, eff[1] - 2 * p[1]))
            n = shape[0] * shape[1] * shape[2] * shape[3]
            kind = "small_int" if variant == 1 else "uniform"
            add(f"rand_max_{i:03d}_k{k[0]}x{k[1]}_s{s[0]}x{s[1]}_p{p[0]}x{p[1]}_d{d[0]}x{d[1]}"
                f"_{'ceil' if ceil else 'floor'}", "max", shape, rand_bits(n, kind), k, s, p, d,
                ceil_mode=ceil)
            # avg
            p = (RNG.randint(0, pmax[0]), RNG.randint(0, pmax[1]))
            ceil = RNG.random() < 0.5
            cip = RNG.random() < 0.5
            shape = pick_shape(max(1, k[0] - 2 * p[0]), max(1, k[1] - 2 * p[1]))
            n = shape[0] * shape[1] * shape[2] * shape[3]
            add(f"rand_avg_{i:03d}_k{k[0]}x{k[1]}_s{s[0]}x{s[1]}_p{p[0]}x{p[1]}"
                f"_{'ceil' if ceil else 'floor'}_{'cip' if cip else 'nocip'}", "avg", shape,
                rand_bits(n, "uniform"), k, s, p, ceil_mode=ceil, count_include_pad=cip)
            i += 1

for j in range(24):
    h, w = RNG.randint(1, 13), RNG.randint(1, 13)
    o = (RNG.randint(1, 13), RNG.randint(1, 13))
    op = "adaptive_avg" if j % 2 == 0 else "adaptive_max"
    nc = RNG.choice([(1, 1), (1, 2), (2, 1)])
    add(f"rand_{op}_{j:03d}_{h}x{w}_to_{o[0]}x{o[1]}", op, (nc[0], nc[1], h, w),
        rand_bits(nc[0] * nc[1] * h * w, "uniform" if j % 4 < 2 else "small_int"), output_size=o)

# ---------------------------------------------------------------------------
# 10. Errors and degenerate shapes.
# ---------------------------------------------------------------------------
x16 = seq(16)
for op in ("max", "avg"):
    add(f"err_{op}_kernel0", op, (1, 1, 4, 4), x16, 0, 1)
    add(f"err_{op}_kernel0_w", op, (1, 1, 4, 4), x16, (2, 0), 1)
    add(f"err_{op}_stride0", op, (1, 1, 4, 4), x16, 2, 0)
    add(f"err_{op}_stride0_h", op, (1, 1, 4, 4), x16, 2, (0, 1))
    add(f"err_{op}_pad_gt_half_k2_p2", op, (1, 1, 4, 4), x16, 2, 1, 2)
    add(f"err_{op}_pad_gt_half_k3_p2", op, (1, 1, 6, 6), seq(36), 3, 1, 2)
    add(f"err_{op}_pad_gt_half_k1_p1", op, (1, 1, 4, 4), x16, 1, 1, 1)
    add(f"err_{op}_pad_gt_half_w_k(3,1)_p(1,1)", op, (1, 1, 4, 4), x16, (3, 1), 1, (1, 1))
    add(f"err_{op}_output_lt1_k5", op, (1, 1, 4, 4), x16, 5, 1)
    add(f"err_{op}_output_lt1_k(2,5)", op, (1, 1, 4, 4), x16, (2, 5), 1)
    add(f"ok_{op}_kernel_eq_padded_k5_p2_L1", op, (1, 1, 1, 1), floats([3]), 5, 1, 2)
    add(f"err_{op}_H0", op, (1, 1, 0, 4), [], 2, 2)
    add(f"err_{op}_W0", op, (1, 1, 4, 0), [], 2, 2)
    add(f"err_{op}_C0", op, (1, 0, 4, 4), [], 2, 2)
    add(f"ok_{op}_N0", op, (0, 1, 4, 4), [], 2, 2)
    add(f"ok_{op}_N0_C3", op, (0, 3, 5, 5), [], 3, 2, 1, ceil_mode=True)
    add(f"err_{op}_N0_output_lt1", op, (0, 1, 4, 4), [], 5, 1)
    add(f"err_{op}_N0_stride0", op, (0, 1, 4, 4), [], 2, 0)
add("err_max_dilation0", "max", (1, 1, 4, 4), x16, 2, 1, 0, 0)
add("err_max_dilation0_w", "max", (1, 1, 4, 4), x16, 2, 1, 0, (1, 0))
# Dilation does not relax the padding limit (checked on the undilated kernel).
add("err_max_pad_gt_half_k2_p2_d3", "max", (1, 1, 6, 6), seq(36), 2, 1, 2, 3)
add("err_max_pad_gt_half_k3_p2_d2", "max", (1, 1, 6, 6), seq(36), 3, 1, 2, 2)
add("err_max_output_lt1_dilated", "max", (1, 1, 4, 4), x16, 3, 1, 0, 2)
add("err_avg_divisor_override0", "avg", (1, 1, 4, 4), x16, 2, 2, divisor_override=0)
add("err_avg_divisor_override0_N0", "avg", (0, 1, 4, 4), [], 2, 2, divisor_override=0)
for op in ("global_avg", "global_max"):
    add(f"degenerate_{op}_H0", op, (1, 1, 0, 4), [])
    add(f"degenerate_{op}_W0", op, (1, 1, 4, 0), [])
    add(f"degenerate_{op}_C0", op, (1, 0, 4, 4), [])
    add(f"ok_{op}_N0", op, (0, 1, 4, 4), [])
for op in ("adaptive_avg", "adaptive_max"):
    add(f"err_{op}_H0", op, (1, 1, 0, 4), [], output_size=2)
    add(f"err_{op}_W0", op, (1, 1, 4, 0), [], output_size=2)
    add(f"degenerate_{op}_C0", op, (1, 0, 4, 4), [], output_size=2)
    add(f"ok_{op}_N0", op, (0, 1, 4, 4), [], output_size=2)
    add(f"degenerate_{op}_output0", op, (1, 1, 4, 4), x16, output_size=0)
    # adaptive_avg_pool2d with output (1, 1) is routed to x.mean() and skips the empty check.
    add(f"degenerate_{op}_H0_output1", op, (1, 1, 0, 4), [], output_size=1)
    add(f"degenerate_{op}_C0_output1", op, (1, 0, 4, 4), [], output_size=1)
    add(f"degenerate_{op}_output(0,2)", op, (1, 1, 4, 4), x16, output_size=(0, 2))
    add(f"degenerate_{op}_output(3,0)", op, (1, 1, 4, 4), x16, output_size=(3, 0))


# ---------------------------------------------------------------------------
# Emit Rust.
# ---------------------------------------------------------------------------
def rs_str(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def rs_u32s(bits):
    if not bits:
        return "&[]"
    parts = ["0x%08x" % b for b in bits]
    lines = []
    for j in range(0, len(parts), 10):
        lines.append("            " + ", ".join(parts[j:j + 10]) + ",")
    return "&[\n" + "\n".join(lines) + "\n        ]"


def rs_i64s(vals):
    if not vals:
        return "&[]"
    parts = [str(v) for v in vals]
    lines = []
    for j in range(0, len(parts), 20):
        lines.append("            " + ", ".join(parts[j:j + 20]) + ",")
    return "&[\n" + "\n".join(lines) + "\n        ]"


def arr(v):
    return "[" + ", ".join(str(int(x)) for x in v) + "]"


def emit():
    ver = torch.__version__.split("+")[0]
    o = []
    o.append(f"// @generated by tests/torch/gen_cases.py from torch {ver} — do not edit.")
    o.append(f"// (torch.__version__ = {torch.__version__}, numpy {np.__version__}, CPU, float32,"
             " torch.set_num_threads(1))")
    o.append("//")
    o.append("// Ops: max = F.max_pool2d(return_indices=True); avg = F.avg_pool2d;")
    o.append("// global_avg = x.mean(dim=(2, 3), keepdim=True); global_max = F.adaptive_max_pool2d(x, 1)")
    o.append("// (values only); adaptive_avg = F.adaptive_avg_pool2d; adaptive_max =")
    o.append("// F.adaptive_max_pool2d(return_indices=True).")
    o.append("//")
    o.append("// Summation order: nnpool's reference defines its own summation order for global and")
    o.append("// adaptive average (PyTorch's mean() uses a vectorised/cascaded sum and adaptive avg")
    o.append("// divides as sum / kh / kw), so tests compare global_avg and adaptive_avg within a")
    o.append("// few ulp. max/avg/global_max/adaptive_max are bit-exact (a NaN result of any")
    o.append("// average op should be compared as NaN, not by payload).")
    o.append("//")
    o.append("// Field conventions: for global_* and adaptive_* kernel, stride and dilation are [0, 0]")
    o.append("// and padding is [0; 4]; avg always has dilation [1, 1]. Negative parameters and")
    o.append("// negative divisor_override are not representable here (see FINDINGS.md).")
    o.append("// Error cases: out_shape None, output/indices empty, error = PyTorch's message.")
    o.append("// Degenerate shapes record what PyTorch does, e.g. global_avg over H = 0 gives NaN.")
    o.append("pub struct Case {")
    o.append("    pub name: &'static str,")
    o.append('    /// "max", "avg", "global_avg", "global_max", "adaptive_avg", "adaptive_max"')
    o.append("    pub op: &'static str,")
    o.append("    pub shape: [usize; 4],        // n, c, h, w (input, logical NCHW)")
    o.append("    pub kernel: [usize; 2],       // kh, kw (0 for global/adaptive)")
    o.append("    pub stride: [usize; 2],")
    o.append("    pub padding: [usize; 4],      // top, left, bottom, right (PyTorch only does "
             "symmetric: top=bottom, left=right)")
    o.append("    pub dilation: [usize; 2],")
    o.append("    pub ceil_mode: bool,")
    o.append("    pub count_include_pad: bool,")
    o.append("    pub divisor_override: Option<u32>,")
    o.append("    pub output_size: [usize; 2],  // adaptive only, else [0, 0]")
    o.append("    /// Input values as f32 bit patterns, NCHW order.")
    o.append("    pub input: &'static [u32],")
    o.append("    /// None when PyTorch raised an error for these parameters; Some(output NCHW shape) "
             "otherwise.")
    o.append("    pub out_shape: Option<[usize; 4]>,")
    o.append("    /// Output as f32 bit patterns, NCHW order (empty on error).")
    o.append("    pub output: &'static [u32],")
    o.append("    /// Argmax indices (flat index into the H×W input plane) for max/adaptive_max, as "
             "PyTorch returns with return_indices=True; empty otherwise. i64 because PyTorch "
             "returns int64.")
    o.append("    pub indices: &'static [i64],")
    o.append("    /// The PyTorch error message, first line, when out_shape is None.")
    o.append("    pub error: &'static str,")
    o.append("}")
    o.append("")
    o.append("pub static CASES: &[Case] = &[")
    for c in CASES:
        o.append("    Case {")
        o.append(f"        name: {rs_str(c['name'])},")
        o.append(f"        op: {rs_str(c['op'])},")
        o.append(f"        shape: {arr(c['shape'])},")
        o.append(f"        kernel: {arr(c['kernel'])},")
        o.append(f"        stride: {arr(c['stride'])},")
        o.append(f"        padding: {arr(c['padding'])},")
        o.append(f"        dilation: {arr(c['dilation'])},")
        o.append(f"        ceil_mode: {'true' if c['ceil_mode'] else 'false'},")
        o.append(f"        count_include_pad: {'true' if c['count_include_pad'] else 'false'},")
        dv = c["divisor_override"]
        o.append(f"        divisor_override: {'None' if dv is None else f'Some({dv})'},")
        o.append(f"        output_size: {arr(c['output_size'])},")
        o.append(f"        input: {rs_u32s(c['input'])},")
        os_ = c["out_shape"]
        o.append(f"        out_shape: {'None' if os_ is None else f'Some({arr(os_)})'},")
        o.append(f"        output: {rs_u32s(c['output'])},")
        o.append(f"        indices: {rs_i64s(c['indices'])},")
        o.append(f"        error: {rs_str(c['error'])},")
        o.append("    },")
    o.append("];")
    o.append("")
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(o))


emit()
n_err = sum(1 for c in CASES if c["out_shape"] is None)
print(f"wrote {OUT}: {len(CASES)} cases ({n_err} errors), {os.path.getsize(OUT)} bytes",
      file=sys.stderr)
