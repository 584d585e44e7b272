#!/usr/bin/env python3
"""Checks the semantic claims in FINDINGS.md against PyTorch (CPU, float32).

    $HOME/.cache/nnpool-peers/venv/bin/python tests/torch/verify_findings.py

Each section prints what it observed; FINDINGS.md quotes this output.
"""

import math
import random

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
rng = random.Random(7)
f32 = np.float32


def bits(t):
    return t.detach().contiguous().numpy().astype(np.float32).reshape(-1).view(np.uint32)


def err(f):
    try:
        r = f()
        if isinstance(r, tuple):
            return "OK " + str([tuple(x.shape) for x in r])
        return "OK " + str(tuple(r.shape))
    except Exception as e:  # noqa: BLE001
        return f"ERR {type(e).__name__}: {str(e).splitlines()[0]}"


# ---------------------------------------------------------------------------
def out_size(L, k, s, p, d, ceil):
    num = L + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    o = math.floor(num / s) + 1
    if ceil and (o - 1) * s >= L + p:
        o -= 1
    return o


def section_output_size():
    print("== 1. output size formula ==")
    n = mism = 0
    for L in range(1, 13):
        for k in range(1, 6):
            for s in range(1, 5):
                for p in range(0, k // 2 + 1):
                    for d in range(1, 4):
                        for ceil in (False, True):
                            x = torch.zeros(1, 1, L, 1)
                            want = out_size(L, k, s, p, d, ceil)
                            for op in ("max", "avg"):
                                if op == "avg" and d != 1:
                                    continue
                                try:
                                    if op == "max":
                                        y = F.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), ceil)
                                    else:
                                        y = F.avg_pool2d(x, (k, 1), (s, 1), (p, 0), ceil)
                                    got = y.shape[2]
                                except RuntimeError:
                                    got = None
                                exp = want if want >= 1 else None
                                n += 1
                                if got != exp:
                                    mism += 1
                                    if mism < 10:
                                        print("  mismatch", op, L, k, s, p, d, ceil, got, exp)
    print(f"  {n} (L,k,s,p,d,ceil,op) combos, {mism} mismatches")


# ---------------------------------------------------------------------------
def section_errors():
    print("== 2. parameter / shape errors ==")
    x = torch.ones(1, 1, 4, 4)
    checks = [
        ("max kernel 0 (stride=1)", lambda: F.max_pool2d(x, 0, 1)),
        ("max kernel 0 (stride default)", lambda: F.max_pool2d(x, 0)),
        ("max kernel -2", lambda: F.max_pool2d(x, -2, 1)),
        ("avg kernel 0", lambda: F.avg_pool2d(x, 0, 1)),
        ("max stride 0", lambda: F.max_pool2d(x, 2, 0)),
        ("max stride -1", lambda: F.max_pool2d(x, 2, -1)),
        ("avg stride 0", lambda: F.avg_pool2d(x, 2, 0)),
        ("max dilation 0", lambda: F.max_pool2d(x, 2, 1, 0, 0)),
        ("max dilation -1", lambda: F.max_pool2d(x, 2, 1, 0, -1)),
        ("max padding -1", lambda: F.max_pool2d(x, 2, 1, -1)),
        ("avg padding -1", lambda: F.avg_pool2d(x, 2, 1, -1)),
        ("max k2 p1 (ok)", lambda: F.max_pool2d(x, 2, 1, 1)),
        ("max k2 p2", lambda: F.max_pool2d(x, 2, 1, 2)),
        ("max k3 p2 d2", lambda: F.max_pool2d(x, 3, 1, 2, 2)),
        ("max k2 p2 d3", lambda: F.max_pool2d(x, 2, 1, 2, 3)),
        ("max k1 p1", lambda: F.max_pool2d(x, 1, 1, 1)),
        ("avg k2 p2", lambda: F.avg_pool2d(x, 2, 1, 2)),
        ("avg divisor_override 0", lambda: F.avg_pool2d(x, 2, 2, divisor_override=0)),
        ("avg divisor_override -2 (values)", lambda: F.avg_pool2d(x, 2, 2, divisor_override=-2)),
        ("max k5 on 4x4", lambda: F.max_pool2d(x, 5, 1)),
        ("avg k5 on 4x4", lambda: F.avg_pool2d(x, 5, 1)),
        ("adaptive_avg output 0", lambda: F.adaptive_avg_pool2d(x, 0)),
        ("adaptive_avg output (0,2)", lambda: F.adaptive_avg_pool2d(x, (0, 2))),
        ("adaptive_avg output -1", lambda: F.adaptive_avg_pool2d(x, -1)),
        ("adaptive_max output 0", lambda: F.adaptive_max_pool2d(x, 0, return_indices=True)),
        ("adaptive_max output -1", lambda: F.adaptive_max_pool2d(x, -1)),
    ]
    for label, f in checks:
        r = err(f)
        if label.endswith("(values)") and r.startswith("OK"):
            r += " values " + str(f().flatten().tolist())
        print(f"  {label:34s} {r}")
    print("  -- degenerate shapes (op: result) --")
    ops = {
        "max_pool2d": lambda y: F.max_pool2d(y, 2, return_indices=True),
        "avg_pool2d": lambda y: F.avg_pool2d(y, 2),
        "adaptive_avg": lambda y: F.adaptive_avg_pool2d(y, 2),
        "adaptive_avg(1)": lambda y: F.adaptive_avg_pool2d(y, 1),
        "adaptive_max": lambda y: F.adaptive_max_pool2d(y, 2, return_indices=True),
        "mean(-2,-1)": lambda y: y.mean(dim=(-2, -1), keepdim=True),
        "amax(-2,-1)": lambda y: y.amax(dim=(-2, -1), keepdim=True),
    }
    for shp in [(0, 1, 4, 4), (1, 0, 4, 4), (1, 1, 0, 4), (1, 1, 4, 0), (0, 0, 4, 4),
                (0, 4, 4), (1, 0, 4), (1, 4, 0)]:
        for name, f in ops.items():
            y = torch.ones(*shp)
            r = err(lambda: f(y))
            if r.startswith("OK") and name == "mean(-2,-1)":
                r += " " + str(f(y).flatten().tolist()[:1])
            print(f"  {str(shp):14s} {name:16s} {r}")


# ---------------------------------------------------------------------------
def ref_max(x, k, s, p, d, ceil):
    """x: numpy (H, W) float32. Claimed semantics."""
    H, W = x.shape
    OH = out_size(H, k[0], s[0], p[0], d[0], ceil)
    OW = out_size(W, k[1], s[1], p[1], d[1], ceil)
    out = np.zeros((OH, OW), np.float32)
    idx = np.zeros((OH, OW), np.int64)
    for oh in range(OH):
        for ow in range(OW):
            h0 = oh * s[0] - p[0]
            w0 = ow * s[1] - p[1]
            hs = [h0 + i * d[0] for i in range(k[0])]
            ws = [w0 + j * d[1] for j in range(k[1])]
            hin = [h for h in hs if 0 <= h < H]
            win = [w for w in ws if 0 <= w < W]
            # first in-bounds tap (torch: ih0 advanced by d until >= 0)
            fh = next((h for h in hs if h >= 0), hs[-1])
            fw = next((w for w in ws if w >= 0), ws[-1])
            m = f32(-np.inf)
            mi = fh * W + fw
            for h in hin:
                for w in win:
                    v = x[h, w]
                    if v > m or np.isnan(v):
                        m, mi = v, h * W + w
            out[oh, ow] = m
            idx[oh, ow] = mi
    return out, idx


def ref_avg(x, k, s, p, ceil, cip, dov, plus_zero=False):
    H, W = x.shape
    OH = out_size(H, k[0], s[0], p[0], 1, ceil)
    OW = out_size(W, k[1], s[1], p[1], 1, ceil)
    out = np.zeros((OH, OW), np.float32)
    for oh in range(OH):
        for ow in range(OW):
            h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
            h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
            pool = (h1 - h0) * (w1 - w0)
            hs, ws = max(h0, 0), max(w0, 0)
            he, we = min(h1, H), min(w1, W)
            acc = f32(0.0)
            for h in range(hs, he):
                for w in range(ws, we):
                    acc = f32(acc + x[h, w])
            if dov is not None:
                div = dov
            elif cip:
                div = pool
            else:
                div = (he - hs) * (we - ws)
            q = f32(acc / f32(div))
            # NCHW kernel: output = 0; output += sum / div  -> a -0.0 quotient becomes +0.0
            out[oh, ow] = f32(f32(0.0) + q) if plus_zero else q
    return out


def rand_plane(H, W, kind):
    if kind == "special":
        pool = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.0, -1.0, 2.0, 1e-45, -1e-45]
        return np.array([rng.choice(pool) for _ in range(H * W)], np.float32).reshape(H, W)
    if kind == "ties":
        return np.array([rng.choice([0.0, -0.0, 1.0, -1.0]) for _ in range(H * W)],
                        np.float32).reshape(H, W)
    return np.array([rng.uniform(-10, 10) for _ in range(H * W)], np.float32).reshape(H, W)


def same_bits_or_nan(a, b):
    a = np.asarray(a, np.float32).reshape(-1)
    b = np.asarray(b, np.float32).reshape(-1)
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | (a.view(np.uint32) == b.view(np.uint32))))


def section_max():
    print("== 3/4. max semantics (reference vs torch) ==")
    n = bad_v = bad_i = bad_payload = 0
    for trial in range(3000):
        k = (rng.randint(1, 4), rng.randint(1, 4))
        s = (rng.randint(1, 3), rng.randint(1, 3))
        p = (rng.randint(0, k[0] // 2), rng.randint(0, k[1] // 2))
        d = (rng.randint(1, 4), rng.randint(1, 4))
        ceil = rng.random() < 0.5
        H, W = rng.randint(1, 8), rng.randint(1, 8)
        if out_size(H, k[0], s[0], p[0], d[0], ceil) < 1 or \
                out_size(W, k[1], s[1], p[1], d[1], ceil) < 1:
            continue
        x = rand_plane(H, W, rng.choice(["special", "ties", "uniform"]))
        if rng.random() < 0.3:  # distinct NaN payloads
            xb = x.view(np.uint32)
            for j in range(xb.size):
                if np.isnan(x.flat[j]):
                    xb.flat[j] = 0x7FC00000 | rng.randint(1, 1000)
        y, i = F.max_pool2d(torch.from_numpy(x.copy())[None, None], k, s, p, d, ceil,
                            return_indices=True)
        ro, ri = ref_max(x, k, s, p, d, ceil)
        n += 1
        yb = bits(y[0, 0])
        if not same_bits_or_nan(yb.view(np.float32), ro):
            bad_v += 1
        elif not np.array_equal(yb, ro.reshape(-1).view(np.uint32)):
            bad_payload += 1
        if not np.array_equal(i[0, 0].numpy(), ri):
            bad_i += 1
            if bad_i < 5:
                print("  idx mismatch", k, s, p, d, ceil, x.tolist(), i[0, 0].tolist(), ri.tolist())
    print(f"  {n} random max cases: value mismatches {bad_v}, NaN-payload mismatches {bad_payload},"
          f" index mismatches {bad_i}")
    # examples
    def show(label, vals, shape, k, s=None, p=0, d=1):
        x = torch.tensor(vals, dtype=torch.float32).reshape(1, 1, *shape)
        y, i = F.max_pool2d(x, k, s, p, d, return_indices=True)
        print(f"  {label}: value bits {[hex(b) for b in bits(y)]} indices {i.flatten().tolist()}")
    nan = float("nan")
    show("ties [3,7,7,7] k2", [3, 7, 7, 7], (2, 2), 2)
    show("[+0,-0,-0,-0] k2", [0.0, -0.0, -0.0, -0.0], (2, 2), 2)
    show("[-0,+0,+0,+0] k2", [-0.0, 0.0, 0.0, 0.0], (2, 2), 2)
    show("[nan,5,nan,7] k2", [nan, 5, nan, 7], (2, 2), 2)
    show("[1,nan,nan,4,nan,2] k(2,3)", [1, nan, nan, 4, nan, 2], (2, 3), (2, 3))
    xb = np.array([0x7FC00001, f32(3).view(np.uint32), 0x7FC00002, 0xFFC00003], np.uint32)
    y, i = F.max_pool2d(torch.from_numpy(xb.view(np.float32).copy()).reshape(1, 1, 2, 2), 2,
                        return_indices=True)
    print(f"  payloads [0x7fc00001,3,0x7fc00002,0xffc00003]: value {hex(bits(y)[0])} index "
          f"{i.item()}")
    show("all -inf 3x3 k3 p1 (padding is -inf)", [-math.inf] * 9, (3, 3), 3, 1, 1)
    print("  -- windows entirely in padding (dilation) --")
    for (label, shape, k, s, p, d) in [
        ("1x1 k2 s1 p1 d2", (1, 1), 2, 1, 1, 2),
        ("2x1 k(2,1) s1 p(1,0) d(3,1)", (2, 1), (2, 1), 1, (1, 0), (3, 1)),
        ("2x2 k2 s1 p1 d3", (2, 2), 2, 1, 1, 3),
        ("2x3 k2 s1 p1 d3", (2, 3), 2, 1, 1, 3),
        ("3x3 k2 s1 p1 d4", (3, 3), 2, 1, 1, 4),
        ("3x2 k(1,2) s1 p(0,1) d(1,3)", (3, 2), (1, 2), 1, (0, 1), (1, 3)),
    ]:
        x = torch.arange(1.0, 1 + shape[0] * shape[1]).reshape(1, 1, *shape)
        y, i = F.max_pool2d(x, k, s, p, d, return_indices=True)
        y2, i2 = F.max_pool2d(x.to(memory_format=torch.channels_last), k, s, p, d,
                              return_indices=True)
        print(f"  {label}: out {y.flatten().tolist()} idx {i.flatten().tolist()} "
              f"(plane size {shape[0] * shape[1]}); channels_last out {y2.flatten().tolist()} "
              f"idx {i2.flatten().tolist()}")


# ---------------------------------------------------------------------------
def section_avg():
    print("== 5. average semantics (reference vs torch) ==")
    n = 0
    bad = {("nchw", "plain"): 0, ("nchw", "0+q"): 0, ("cl", "plain"): 0, ("cl", "0+q"): 0}
    for trial in range(3000):
        k = (rng.randint(1, 5), rng.randint(1, 5))
        s = (rng.randint(1, 3), rng.randint(1, 3))
        p = (rng.randint(0, k[0] // 2), rng.randint(0, k[1] // 2))
        ceil = rng.random() < 0.5
        cip = rng.random() < 0.5
        dov = rng.choice([None, None, None, 1, 3, 7])
        H, W = rng.randint(1, 9), rng.randint(1, 9)
        if out_size(H, k[0], s[0], p[0], 1, ceil) < 1 or out_size(W, k[1], s[1], p[1], 1, ceil) < 1:
            continue
        x = rand_plane(H, W, rng.choice(["special", "uniform", "uniform"]))
        n += 1
        for lay, mf in (("nchw", torch.contiguous_format), ("cl", torch.channels_last)):
            xt = torch.from_numpy(x.copy())[None, None].repeat(1, 3, 1, 1).to(memory_format=mf)
            y = F.avg_pool2d(xt, k, s, p, ceil, cip, dov)
            for ref, pz in (("plain", False), ("0+q", True)):
                r = ref_avg(x, k, s, p, ceil, cip, dov, plus_zero=pz)
                if not all(same_bits_or_nan(y[0, c].numpy(), r) for c in range(3)):
                    bad[(lay, ref)] += 1
    print(f"  {n} random avg cases, mismatch counts per (layout, reference) where "
          "plain = (sum from +0.0, row-major) / divisor, one f32 division, and "
          f"0+q = 0.0 + plain: {bad}")

    def show(label, vals, shape, k, s, p, ceil, cip):
        x = torch.tensor(vals, dtype=torch.float32).reshape(1, 1, *shape)
        y = F.avg_pool2d(x, k, s, p, ceil, cip)
        print(f"  {label}: {y.flatten().tolist()}  bits {[hex(b) for b in bits(y)]}")
    show("ones 4x4 k3 s2 p1 ceil cip=True", [1.0] * 16, (4, 4), 3, 2, 1, True, True)
    show("ones 4x4 k3 s2 p1 ceil cip=False", [1.0] * 16, (4, 4), 3, 2, 1, True, False)
    show("ones 5x5 k2 s2 p0 ceil cip=True", [1.0] * 25, (5, 5), 2, 2, 0, True, True)
    show("all -0.0 2x2 k2", [-0.0] * 4, (2, 2), 2, 2, 0, False, True)
    show("all -0.0 3x3 k3 p1 cip=False", [-0.0] * 9, (3, 3), 3, 1, 1, False, False)
    show("four 1e38 k2", [1e38] * 4, (2, 2), 2, 2, 0, False, True)
    nd = float(np.array([0x80000001], np.uint32).view(np.float32)[0])
    x = torch.tensor([nd, 0, 1, 1, 0, 0, 1, 1]).reshape(1, 1, 2, 4)
    xc = x.repeat(1, 3, 1, 1).to(memory_format=torch.channels_last)
    print("  [[-denorm_min,0,1,1],[0,0,1,1]] k2 s2 (first window = -2^-149/4 -> -0.0): NCHW",
          [hex(b) for b in bits(F.avg_pool2d(x, 2))], "channels_last",
          [hex(b) for b in bits(F.avg_pool2d(xc, 2)[:, 0])],
          "adaptive_avg (1,2) NCHW", [hex(b) for b in bits(F.adaptive_avg_pool2d(x, (1, 2)))],
          "channels_last", [hex(b) for b in bits(F.adaptive_avg_pool2d(xc, (1, 2))[:, 0])])
    show("four -1e38 k2", [-1e38] * 4, (2, 2), 2, 2, 0, False, True)


# ---------------------------------------------------------------------------
def bins(L, O):
    return [((o * L) // O, -((-(o + 1) * L) // O)) for o in range(O)]


def ref_adaptive(x, OH, OW, mode):
    H, W = x.shape
    out = np.zeros((OH, OW), np.float32)
    idx = np.zeros((OH, OW), np.int64)
    for oh, (h0, h1) in enumerate(bins(H, OH)):
        for ow, (w0, w1) in enumerate(bins(W, OW)):
            if mode == "max":
                m, mi = f32(-np.inf), h0 * W + w0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        v = x[h, w]
                        if v > m or np.isnan(v):
                            m, mi = v, h * W + w
                out[oh, ow], idx[oh, ow] = m, mi
            else:
                acc = f32(0.0)
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        acc = f32(acc + x[h, w])
                kh, kw = h1 - h0, w1 - w0
                if mode == "avg_twice":
                    out[oh, ow] = f32(f32(acc / f32(kh)) / f32(kw))
                else:
                    out[oh, ow] = f32(acc / f32(kh * kw))
    return out, idx


def section_adaptive():
    print("== 6. adaptive pooling ==")
    n = bad_max = bad_idx = 0
    cnt = {("nchw", "avg_twice"): 0, ("nchw", "avg_once"): 0, ("cl", "avg_twice"): 0,
           ("cl", "avg_once"): 0}
    n_avg = 0
    example = None
    for trial in range(2000):
        H, W = rng.randint(1, 13), rng.randint(1, 13)
        OH, OW = rng.randint(1, 15), rng.randint(1, 15)
        x = rand_plane(H, W, rng.choice(["special", "uniform", "uniform", "ties"]))
        xt = torch.from_numpy(x.copy())[None, None]
        y, i = F.adaptive_max_pool2d(xt, (OH, OW), return_indices=True)
        ro, ri = ref_adaptive(x, OH, OW, "max")
        n += 1
        if not np.array_equal(bits(y[0, 0]), ro.reshape(-1).view(np.uint32)):
            if not same_bits_or_nan(y[0, 0].numpy(), ro):
                bad_max += 1
        if not np.array_equal(i[0, 0].numpy(), ri):
            bad_idx += 1
        # channels_last max
        xc = xt.repeat(1, 4, 1, 1).to(memory_format=torch.channels_last)
        yc, ic = F.adaptive_max_pool2d(xc, (OH, OW), return_indices=True)
        if not (np.array_equal(ic[0, 0].numpy(), ri) and same_bits_or_nan(yc[0, 0].numpy(), ro)):
            bad_idx += 1000
        # avg: use finite uniform input for the division-order question
        if (OH, OW) == (1, 1):
            OH = 2
        xu = rand_plane(H, W, "uniform")
        xut = torch.from_numpy(xu.copy())[None, None]
        ya = F.adaptive_avg_pool2d(xut, (OH, OW))[0, 0].numpy()
        yca = F.adaptive_avg_pool2d(xut.repeat(1, 4, 1, 1).to(memory_format=torch.channels_last),
                                    (OH, OW))[0, 0].numpy()
        r2, _ = ref_adaptive(xu, OH, OW, "avg_twice")
        r1, _ = ref_adaptive(xu, OH, OW, "avg_once")
        n_avg += 1
        for lay, yy in (("nchw", ya), ("cl", yca)):
            for mode, rr in (("avg_twice", r2), ("avg_once", r1)):
                if np.array_equal(yy.view(np.uint32), rr.view(np.uint32)):
                    cnt[(lay, mode)] += 1
        if example is None and not np.array_equal(ya.view(np.uint32), yca.view(np.uint32)):
            example = (H, W, OH, OW, xu, ya, yca, r1, r2)
    print(f"  {n} random adaptive_max cases (bins floor/ceil, rule v>m||isnan): value mismatches "
          f"{bad_max}, index mismatches {bad_idx} (incl. channels_last x1000)")
    print(f"  {n_avg} random adaptive_avg cases, bit-exact agreement counts: {cnt}")
    if example:
        H, W, OH, OW, xu, ya, yca, r1, r2 = example
        j = int(np.argmax(ya.view(np.uint32) != yca.view(np.uint32)))
        print(f"  first differing case: input {H}x{W} -> {OH}x{OW}, flat output {j}: "
              f"NCHW {ya.reshape(-1)[j]!r} ({hex(ya.reshape(-1).view(np.uint32)[j])}), "
              f"channels_last {yca.reshape(-1)[j]!r} ({hex(yca.reshape(-1).view(np.uint32)[j])})")
    # A hand-made small example where sum/3/3 != sum/9 (6x6 -> 2x2 gives 3x3 bins; an
    # output of 1x1 would take the mean() shortcut instead).
    for v in range(1, 200):
        s = f32(v) * f32(0.1)
        a = f32(f32(s / f32(3)) / f32(3))
        b = f32(s / f32(9))
        if a != b:
            break
    x = torch.zeros(1, 1, 6, 6)
    x[0, 0, 0, 0] = float(s)
    ya = F.adaptive_avg_pool2d(x, 2)[0, 0, 0, 0]
    yc = F.adaptive_avg_pool2d(x.repeat(1, 4, 1, 1).to(memory_format=torch.channels_last),
                               2)[0, 0, 0, 0]
    print(f"  6x6 zeros with x[0,0]={float(s)!r} -> 2x2, output[0,0]: NCHW {ya.item()!r} "
          f"({hex(bits(ya)[0])}), channels_last {yc.item()!r} ({hex(bits(yc)[0])}); "
          f"s/3/3={float(a)!r} ({hex(np.array(a).view(np.uint32))}), s/9={float(b)!r} "
          f"({hex(np.array(b).view(np.uint32))})")
    # output 1x1 is routed to mean(): compare with mean() and with sum/kh/kw
    same_mean = same_twice = same_cl = same_layouts = tot = 0
    for trial in range(300):
        H, W = rng.randint(1, 13), rng.randint(1, 13)
        xu = rand_plane(H, W, "uniform")
        xt = torch.from_numpy(xu.copy())[None, None]
        ya = F.adaptive_avg_pool2d(xt, 1)
        xc = xt.repeat(1, 4, 1, 1).to(memory_format=torch.channels_last)
        yc = F.adaptive_avg_pool2d(xc, 1)[:, :1]
        r2, _ = ref_adaptive(xu, 1, 1, "avg_twice")
        tot += 1
        same_mean += int(np.array_equal(bits(ya), bits(xt.mean(dim=(2, 3), keepdim=True))))
        same_twice += int(np.array_equal(bits(ya), r2.reshape(-1).view(np.uint32)))
        same_cl += int(np.array_equal(bits(yc), bits(xc.mean(dim=(2, 3), keepdim=True)[:, :1])))
        same_layouts += int(np.array_equal(bits(ya), bits(yc)))
    print(f"  output 1x1: NCHW == x.mean(): {same_mean}/{tot}; NCHW == sum/kh/kw: "
          f"{same_twice}/{tot}; channels_last == channels_last x.mean(): {same_cl}/{tot}; "
          f"NCHW == channels_last: {same_layouts}/{tot}")
    x = torch.arange(1.0, 13).reshape(1, 1, 3, 4)
    y, i = F.adaptive_max_pool2d(x, (5, 7), return_indices=True)
    print("  adaptive_max 3x4 (1..12) -> 5x7 indices:", i.flatten().tolist())
    print("  bins(5, 3) =", bins(5, 3), " bins(3, 5) =", bins(3, 5))


# ---------------------------------------------------------------------------
def section_channels_last_max():
    print("== 7. max_pool2d(return_indices=True) on channels_last ==")
    n = bad = 0
    for trial in range(500):
        k = (rng.randint(1, 4), rng.randint(1, 4))
        s = (rng.randint(1, 3), rng.randint(1, 3))
        p = (rng.randint(0, k[0] // 2), rng.randint(0, k[1] // 2))
        d = (rng.randint(1, 3), rng.randint(1, 3))
        ceil = rng.random() < 0.5
        H, W = rng.randint(3, 10), rng.randint(3, 10)
        if out_size(H, k[0], s[0], p[0], d[0], ceil) < 1 or \
                out_size(W, k[1], s[1], p[1], d[1], ceil) < 1:
            continue
        C = rng.randint(1, 5)
        x = torch.from_numpy(np.stack([rand_plane(H, W, rng.choice(["special", "uniform"]))
                                       for _ in range(2 * C)]).reshape(2, C, H, W))
        y, i = F.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
        xc = x.to(memory_format=torch.channels_last)
        yc, ic = F.max_pool2d(xc, k, s, p, d, ceil, return_indices=True)
        n += 1
        if not (torch.equal(i, ic) and np.array_equal(bits(y), bits(yc))):
            bad += 1
    print(f"  {n} random cases: indices/values differ from NCHW in {bad} "
          f"(output is_contiguous(channels_last)={yc.is_contiguous(memory_format=torch.channels_last)})")
    x = torch.arange(1.0, 17).reshape(1, 1, 4, 4).repeat(1, 2, 1, 1)
    yc, ic = F.max_pool2d(x.to(memory_format=torch.channels_last), 2, 2, return_indices=True)
    print("  4x4 (1..16), 2 channels, k2 s2, channels_last indices:", ic.tolist())


# ---------------------------------------------------------------------------
def section_denormals():
    print("== 8. denormals ==")
    d = np.array([1, 3, 0x007FFFFF, 0x00400000], np.uint32).view(np.float32)
    x = torch.from_numpy(d.copy()).reshape(1, 1, 2, 2)
    print("  input bits:", [hex(b) for b in bits(x)])
    y, i = F.max_pool2d(x, 2, return_indices=True)
    print("  max k2:", hex(bits(y)[0]), "idx", i.item())
    y = F.max_pool2d(x, 1)
    print("  max k1 (identity):", [hex(b) for b in bits(y)])
    y = F.avg_pool2d(x, 1)
    print("  avg k1 (identity):", [hex(b) for b in bits(y)])
    x4 = torch.from_numpy(np.array([1, 1, 1, 1], np.uint32).view(np.float32).copy()).reshape(1, 1, 2, 2)
    print("  avg k2 of four 0x00000001:", hex(bits(F.avg_pool2d(x4, 2))[0]))
    x3 = torch.from_numpy(np.array([3, 0, 0, 0], np.uint32).view(np.float32).copy()).reshape(1, 1, 2, 2)
    print("  avg k2 of [0x3,0,0,0] (0.75 ulp -> rounds to 1 ulp):", hex(bits(F.avg_pool2d(x3, 2))[0]))
    print("  adaptive_avg(1) of four 0x00000001:", hex(bits(F.adaptive_avg_pool2d(x4, 1))[0]))
    print("  mean of four 0x00000001:", hex(bits(x4.mean(dim=(2, 3)))[0]))
    xc = x4.repeat(1, 8, 1, 1).to(memory_format=torch.channels_last)
    print("  channels_last (8 ch) max/avg of four 0x00000001:",
          hex(bits(F.max_pool2d(xc, 2))[0]), hex(bits(F.avg_pool2d(xc, 2))[0]))


# ---------------------------------------------------------------------------
def section_global():
    print("== 9. global_avg (mean) and global_max (amax vs adaptive_max_pool2d(1)) ==")
    n = same_seq = 0
    maxdiff = 0
    for trial in range(300):
        H, W = rng.randint(1, 13), rng.randint(1, 13)
        x = rand_plane(H, W, "uniform")
        m = torch.from_numpy(x.copy())[None, None].mean(dim=(2, 3), keepdim=True).item()
        acc = f32(0)
        for v in x.reshape(-1):
            acc = f32(acc + v)
        r = f32(acc / f32(H * W))
        n += 1
        if np.array(f32(m)).view(np.uint32) == np.array(r).view(np.uint32):
            same_seq += 1
        scale = float(np.abs(x).astype(np.float64).mean())  # error scale of a length-n f32 sum
        maxdiff = max(maxdiff, abs(float(m) - float(r)) / (scale * 2.0 ** -23))
    print(f"  mean vs sequential-sum/(H*W): {same_seq}/{n} bit-identical; max |diff| = "
          f"{maxdiff:.1f} * eps * mean(|x|)  (ulp distance is large only where the sum cancels)")
    for vals in ([0.0, -0.0, -0.0, -0.0], [-0.0, 0.0, 0.0, 0.0], [-0.0] * 4):
        x = torch.tensor(vals).reshape(1, 1, 2, 2)
        a = x.amax(dim=(2, 3))
        b = F.adaptive_max_pool2d(x, 1)
        print(f"  {vals}: amax {hex(bits(a)[0])}, adaptive_max_pool2d(1) {hex(bits(b)[0])}, "
              f"mean {hex(bits(x.mean(dim=(2, 3)))[0])}")
    x = torch.tensor([float("nan"), 1.0, float("nan"), 2.0]).reshape(1, 1, 2, 2)
    print(f"  [nan,1,nan,2]: amax {x.amax(dim=(2, 3)).item()}, adaptive_max(1) idx "
          f"{F.adaptive_max_pool2d(x, 1, return_indices=True)[1].item()}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    print("torch", torch.__version__)
    section_output_size()
    section_errors()
    section_max()
    section_avg()
    section_adaptive()
    section_channels_last_max()
    section_denormals()
    section_global()
