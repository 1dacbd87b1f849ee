"""CAM benchmark: tmvlib's Score-CAM / Grad-CAM against pytorch-grad-cam and torch-cam.

One model (efficientnet_lite0, packaged ImageNet weights, head seeded with torch.manual_seed(0),
eval mode, or ``--checkpoint``), one input (a real radiograph from ``../shared/data`` when
present, else a synthetic one), one CPU, one run. Every method runs in a fresh subprocess with
the same settings (glibc allocator tuning, thread count, ``OMP_WAIT_POLICY``), and reports:

- ``setup s``: building the explainer (for ours: deep copy + TorchScript trace/freeze);
- ``s/image``: one explanation of the image, after setup (best of ``--repeats``);
- ``peak MiB``: increase of the process's peak RSS (``resource.getrusage().ru_maxrss``) over
  its state after loading the model and one warm single-image forward: activations, masked
  input batches and library buffers together (tracemalloc does not see torch's CPU tensors);
- ``forwards``: masked inputs scored (Score-CAMs), agreement (Pearson and Spearman over pixels)
  with our exact Score-CAM, and ``same-def r``: Pearson with the same *definition* computed
  elsewhere (ours exact vs the naive reference loop; pytorch-grad-cam / torch-cam vs ours with
  ``score="logit", weighting="softmax"``).

Batch sizes: ours and the reference 8 (``--batch``), pytorch-grad-cam its default 16, torch-cam
its default 32, as a user would run them. The floor is C x one forward pass at the best batch size (measured, eager and traced models):
what any exact Score-CAM costs without skipping channels. Goals are printed PASS/FAIL.

``--precision`` (fp32 default, bf16, auto) applies to our Score-CAM rows and the floor only; the
reference, the peers and the Grad-CAMs stay float32. ``--device`` (cpu default, e.g. cuda) puts
the model and the input of every row there, except MC-dropout Grad-CAM (CPU only); on a GPU the
``peak MiB`` column is still host RSS, and every row runs once untimed first (the first CUDA
calls tune and compile kernels). ``--rows`` picks rows.

``OMP_WAIT_POLICY=PASSIVE`` (default here, for every row alike): on a shared 2-core machine an
actively spinning OpenMP barrier waits for a descheduled peer thread and made forwards up to 3x
slower under load; ``--omp-wait-policy inherit`` keeps the environment's setting.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_ENGINES = ("torch", "onnxruntime", "openvino")
METHODS = ["reference", "ours_exact", *[f"ours_exact_{e}" for e in CPU_ENGINES], "ours_compat", "ours_topk_64",
           "ours_topk_128", *[f"ours_topk_128_{e}" for e in CPU_ENGINES], "pgc_scorecam", "torchcam_scorecam",
           "captum_gradcam", "ours_mc_gradcam_t30", "floor"]
LABELS = {
    "reference": "reference: naive Score-CAM loop (eager, all C)",
    "ours_exact": "ours: Score-CAM exact",
    "ours_compat": "ours: Score-CAM exact, pgc definition",
    "ours_topk_64": "ours: Score-CAM top-k 64",
    "ours_topk_128": "ours: Score-CAM top-k 128",
    "pgc_scorecam": "peer: pytorch-grad-cam ScoreCAM",
    "torchcam_scorecam": "peer: torch-cam ScoreCAM",
    "captum_gradcam": "ours: Grad-CAM (captum)",
    "ours_mc_gradcam_t30": "ours: MC-dropout Grad-CAM T=30",
    **{f"ours_exact_{e}": f"ours: Score-CAM exact, engine {e}" for e in CPU_ENGINES},
    **{f"ours_topk_128_{e}": f"ours: Score-CAM top-k 128, engine {e}" for e in CPU_ENGINES},
}


def _engine_of(method: str, args) -> str:
    """The forward engine of one of our Score-CAM rows: its suffix, else ``--engine``."""
    suffix = method.rsplit("_", 1)[1]
    return suffix if suffix in CPU_ENGINES else args.engine
TOPK_OPTS = {"select": "variance", "fill": "mean"}


# -- child side ---------------------------------------------------------------------------------

def _load_input(size: int, info):
    import numpy as np
    import torch
    from PIL import Image

    from tmvlib.models import gray_to_input

    data = ROOT.parent / "shared" / "data"
    for manifest in (data / "nih14" / "manifest.csv", data / "kermany" / "manifest.csv"):
        if manifest.is_file():
            import pandas as pd

            name = pd.read_csv(manifest)["filename"].iloc[0]
            path = manifest.parent / "images" / name
            gray = np.asarray(Image.open(path).convert("L").resize((size, size), Image.BILINEAR))
            source = str(path.relative_to(data))
            break
    else:
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:size, 0:size] / size
        img = 0.75 - 0.35 * (np.exp(-((xx - 0.3) ** 2 / 0.02 + (yy - 0.5) ** 2 / 0.08))
                             + np.exp(-((xx - 0.7) ** 2 / 0.02 + (yy - 0.5) ** 2 / 0.08)))
        gray = (np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1) * 255).astype(np.uint8)
        source = "synthetic"
    return gray_to_input(torch.from_numpy(gray.copy())[None, None], info), source


def _explainer(method: str, model, x, args):
    """-> (setup callable returning an object, explain(obj) -> (H,W) numpy, forwards(obj))."""
    import numpy as np
    import torch

    from tmvlib.explain import ScoreCAM, SingleLogit, gradcam, mc_dropout_gradcam
    from tmvlib.explain.base import to_heatmaps

    size = tuple(x.shape[-2:])
    bs = args.batch
    if method in ("reference",):
        return (lambda: None), (lambda _: _naive_scorecam(model, x, bs)), None
    if method.startswith("ours_") and "mc" not in method:
        opts = {"batch_size": bs, "precision": args.precision, "engine": _engine_of(method, args)}
        if method == "ours_compat":
            opts.update(score="logit", weighting="softmax")
        if method.startswith("ours_topk"):
            opts.update(top_k=int(method.split("_")[2]), **TOPK_OPTS)

        def setup():
            cam = ScoreCAM(model, **opts)
            cam.prepare(size)  # trace + warm the scoring model: counted as setup
            return cam
        return setup, (lambda cam: cam(x)[0]), (lambda cam: cam.stats.forwards)
    if method == "pgc_scorecam":
        from pytorch_grad_cam import ScoreCAM as PgcScoreCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        def setup():
            return PgcScoreCAM(SingleLogit(model), [model.cam_target_layer])  # default batch 16
        return setup, (lambda c: c(x, targets=[ClassifierOutputTarget(0)])[0]), \
            (lambda _: model.spec.feature_dim)
    if method == "torchcam_scorecam":
        from torchcam.methods import ScoreCAM as TcScoreCAM

        wrapped = SingleLogit(model)

        def setup():
            return TcScoreCAM(wrapped, target_layer=model.cam_target_layer,
                              input_shape=(3, *size))  # default batch 32

        def run(extractor):
            with torch.no_grad():
                wrapped(x)
            cam = extractor(class_idx=0)[0]  # (1,h,w), ReLU-ed and normalised on the grid
            return to_heatmaps(cam, size)[0]
        return setup, run, (lambda _: model.spec.feature_dim)
    if method == "captum_gradcam":
        return (lambda: None), (lambda _: gradcam(model, x)[0]), None
    if method == "ours_mc_gradcam_t30":
        return (lambda: None), (lambda _: np.asarray(mc_dropout_gradcam(model, x, "bench", T=30, seed=0))), \
            None
    raise ValueError(method)


def _naive_scorecam(model, x, batch: int):
    """The definition as a plain loop: every channel, its mask, eager model, batches of
    ``batch`` masked inputs (the same code as the tests' reference)."""
    import torch
    import torch.nn.functional as F

    from tmvlib.explain.base import capture_output

    size = tuple(x.shape[-2:])
    with torch.no_grad():
        with capture_output(model.cam_target_layer) as store:
            model(x)
        acts = store["out"][0]
        base = model(torch.zeros_like(x))[0]
        logits = []
        for start in range(0, acts.shape[0], batch):
            masked = []
            for k in range(start, min(start + batch, acts.shape[0])):
                up = F.interpolate(acts[None, k:k + 1], size=size, mode="bilinear")[0, 0]
                span = up.max() - up.min()
                masked.append(x[0] * ((up - up.min()) / span if span > 1e-12 else up * 0))
            logits.append(model(torch.stack(masked)))
        s = torch.sigmoid(torch.cat(logits)) - torch.sigmoid(base)
        cam = torch.relu((s[:, None, None] * acts).sum(0))
        up = F.interpolate(cam[None, None], size=size, mode="bilinear")[0, 0]
        return ((up - up.min()) / (up.max() - up.min())).cpu().numpy()


def _floor(model, x, args) -> dict:
    """Best measured forward rate over batch sizes, per forward engine (eager, and every engine
    of ``tmvlib.models.engine`` that loads here), in the precision of our Score-CAM rows (the
    same scoring copy ScoreCAM makes). Warm-up runs are excluded; best of ``--floor-reps``."""
    import torch

    from tmvlib.explain.scorecam import _scoring_copy
    from tmvlib.models.engine import build_engine
    from tmvlib.models.precision import resolve_precision

    size = tuple(x.shape[-2:])
    precision = resolve_precision(args.precision, x.device)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    scorer = _scoring_copy(model, True)
    engines = {"eager": _scoring_copy(model, True, dtype)}
    candidates = CPU_ENGINES if x.device.type == "cpu" else ("torch",)
    for name in (n for n in candidates if not (n == "onnxruntime" and precision == "bf16")):
        try:  # every engine takes float32 inputs and computes in ``precision``
            engines[name] = build_engine(scorer, size, name, threads=args.threads, precision=precision)
        except Exception as err:  # noqa: BLE001 - an engine that cannot load here is reported, not fatal
            print(f"floor: engine {name} unavailable ({type(err).__name__}: {err})", file=sys.stderr)
    per_engine, rates = {}, {}
    for name, m in engines.items():
        for bs in args.floor_batches:
            batch = x.to(dtype if name == "eager" else torch.float32).expand(bs, -1, -1, -1)
            batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                for _ in range(2):  # warm-up (tracing profiles, engine first-run allocations)
                    m(batch)
                _sync(x.device)
                times = []
                for _ in range(args.floor_reps):
                    t0 = time.perf_counter()
                    m(batch)
                    _sync(x.device)
                    times.append(time.perf_counter() - t0)
            rate = bs / min(times)
            rates[f"{name} bs{bs}"] = round(rate, 1)
            if rate > per_engine.get(name, {}).get("rate", 0.0):
                per_engine[name] = {"rate": rate, "batch": bs}
    best = max(per_engine, key=lambda n: per_engine[n]["rate"])
    return {"rates": rates, "engines": per_engine, "rate": per_engine[best]["rate"], "model": best,
            "batch": per_engine[best]["batch"], "channels": model.spec.feature_dim, "precision": precision}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def child(args) -> None:
    import numpy as np
    import torch

    from tmvlib.models import build_classifier
    from tmvlib.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, info = build_classifier("efficientnet_lite0", checkpoint=args.checkpoint)
    x, source = _load_input(args.size, info)
    # MC-dropout Grad-CAM draws its masks on the CPU: that row stays there
    device = torch.device("cpu" if args.row == "ours_mc_gradcam_t30" else args.device)
    model, x = model.to(device), x.to(device)
    with torch.inference_mode():
        model(x)  # warm: the memory baseline includes one ordinary forward
    if args.row == "floor":
        print(json.dumps(_floor(model, x, args)))
        return
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    make, run, forwards = _explainer(args.row, model, x, args)
    t0 = time.perf_counter()
    obj = make()
    setup = time.perf_counter() - t0
    slow = args.row not in ("captum_gradcam", "ours_mc_gradcam_t30")
    if not slow or device.type == "cuda":
        run(obj)  # warm-up for the sub-second methods, and on CUDA for all (kernel tuning)
    times, cpu = [], []
    for _ in range(args.repeats if slow else max(5, args.repeats)):
        c0, t0 = time.process_time(), time.perf_counter()
        heat = run(obj)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if torch.is_tensor(heat):
        heat = heat.detach().cpu()
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim == 3:  # MC dropout: compare the mean map
        np.save(Path(args.out) / f"{args.row}_samples.npy", heat)
        heat = heat.mean(0)
    np.save(Path(args.out) / f"{args.row}.npy", heat)
    print(json.dumps({"setup": setup, "time": min(times), "cpu": cpu[times.index(min(times))],
                      "peak_mib": (rss1 - rss0) / 1024, "source": source,
                      "forwards": forwards(obj) if forwards else None,
                      "precision": getattr(obj, "precision", "fp32"), "device": str(device),
                      "engine": getattr(obj, "engine_name", None)}))


# -- parent side --------------------------------------------------------------------------------

def _run_row(row: str, args, out: str, env: dict) -> dict:
    cmd = [sys.executable, __file__, "--row", row, "--out", out, "--size", str(args.size),
           "--threads", str(args.threads), "--batch", str(args.batch),
           "--repeats", str(args.repeats), "--floor-reps", str(args.floor_reps),
           "--floor-batches", *map(str, args.floor_batches),
           "--precision", args.precision, "--device", args.device, "--engine", args.engine]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        print(f"  {row}: FAILED\n{tail}", flush=True)
        return {"error": tail}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _agreement(a, b) -> tuple[float, float]:
    """(Pearson, Spearman) over pixels; NaN when a map is constant (e.g. all zero)."""
    import numpy as np
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), float("nan")
    return (float(np.corrcoef(a.ravel(), b.ravel())[0, 1]),
            float(spearmanr(a.ravel(), b.ravel()).statistic))


def parent(args) -> None:
    import numpy as np
    import pandas as pd
    import torch

    from tmvlib.fingerprint import bf16_cpu_fast, compute_report
    from tmvlib.models.precision import resolve_precision

    env = dict(os.environ)
    if args.omp_wait_policy != "inherit":
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    env["PYTHONWARNINGS"] = "ignore"
    rows = args.rows or [m for m in METHODS if not (args.quick and m in args.quick_skip)]
    print(f"efficientnet_lite0, {args.size}x{args.size} px, 1 image, threads={args.threads}, "
          f"OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', 'unset')}, Score-CAM batch {args.batch}"
          f"{' (QUICK: indicative only)' if args.quick else ''}")
    resolved = resolve_precision(args.precision, torch.device(args.device))
    if resolved == "bf16":  # ONNX Runtime's CPU provider has no bf16
        rows = [r for r in rows if not r.endswith("_onnxruntime")]
    print(f"{compute_report()}; native bf16: {bf16_cpu_fast()}; device {args.device}; "
          f"precision: ours Score-CAM rows and floor {args.precision} -> {resolved}, "
          "all other rows fp32")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(other processes slow every row; compare rows of one run)\n", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for row in rows:
            t0 = time.perf_counter()
            results[row] = _run_row(row, args, out, env)
            print(f"  measured {row} ({time.perf_counter() - t0:.0f} s wall incl. start-up; "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
        maps = {r: np.load(Path(out) / f"{r}.npy") for r in rows
                if (Path(out) / f"{r}.npy").is_file()}
        mc = Path(out) / "ours_mc_gradcam_t30_samples.npy"
        mc_samples = np.load(mc) if mc.is_file() else None
    floor = results.pop("floor", {})
    source = next((r.get("source") for r in results.values() if r.get("source")), "?")
    print(f"\ninput: {source}")
    same_def = {"ours_exact": "reference", "pgc_scorecam": "ours_compat",
                "torchcam_scorecam": "ours_compat", "ours_compat": "pgc_scorecam"}
    table = []
    for row, res in results.items():
        entry = {"method": LABELS[row]}
        if "error" in res:
            table.append(entry)
            continue
        entry.update({"setup s": res["setup"], "s/image": res["time"], "cpu s": res["cpu"],
                      "peak MiB": res["peak_mib"], "forwards": res["forwards"],
                      "prec": res.get("precision", "fp32"), "engine": res.get("engine") or "-"})
        if row in maps and "ours_exact" in maps:
            entry["pearson"], entry["spearman"] = _agreement(maps[row], maps["ours_exact"])
        if same_def.get(row) in maps and row in maps:
            entry["same-def r"] = _agreement(maps[row], maps[same_def[row]])[0]
        table.append(entry)
    frame = pd.DataFrame(table, columns=["method"] if not table else None).set_index("method")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame.round({"setup s": 2, "s/image": 2, "cpu s": 1, "peak MiB": 0, "pearson": 4,
                           "spearman": 4, "same-def r": 5}).to_string())
    if mc_samples is not None:
        print(f"MC-dropout maps: mean per-pixel std over T=30 samples {mc_samples.std(0).mean():.4f}")
    _print_floor(floor, results)
    _print_goals(results, maps, floor)


def _t(results, row, with_setup=False):
    res = results.get(row, {})
    if "time" not in res:
        return float("nan")
    return res["time"] + (res["setup"] if with_setup else 0.0)


def _engine_floor(floor: dict, engine: str | None) -> float | None:
    """Seconds for C forwards with ``engine`` at its best batch (None if not measured)."""
    rate = floor.get("engines", {}).get(engine, {}).get("rate")
    return floor["channels"] / rate if rate else None


def _print_floor(floor: dict, results: dict) -> None:
    if "rate" not in floor:
        return
    c = floor["channels"]
    print(f"\nforward rates (img/s, warm-up excluded): {floor['rates']}")
    for name, best in floor.get("engines", {}).items():
        print(f"floor, engine {name}: C x one forward = {c} x {1e3 / best['rate']:.1f} ms (batch {best['batch']}, "
              f"{floor.get('precision', 'fp32')}) = {c / best['rate']:.2f} s")
    for row in ("ours_exact", *[f"ours_exact_{e}" for e in CPU_ENGINES]):
        ours = results.get(row, {})
        own = _engine_floor(floor, ours.get("engine"))
        if "time" in ours and own:
            fw = ours["forwards"]
            print(f"{LABELS[row]} ({ours['engine']}): {ours['time']:.2f} s = {ours['time'] / own:.2f} x its engine's "
                  f"C-forward floor; it forwards {fw} distinct masks of {c} channels (constant channels and duplicate "
                  f"masks skipped, exact), whose own floor is {fw * own / c:.2f} s -> overhead "
                  f"{ours['time'] / (fw * own / c):.2f} x")


def _print_goals(results: dict, maps: dict, floor: dict | None = None) -> None:

    peers = [r for r in ("pgc_scorecam", "torchcam_scorecam") if "time" in results.get(r, {})]
    print("\ngoals (s/image after setup; with setup in brackets):")
    if not peers:
        print("  peers not measured: speed goals not evaluated")
    peer = min(peers, key=lambda r: results[r]["time"]) if peers else None

    approximate = results.get("ours_exact", {}).get("precision") == "bf16"

    def verdict(ok: bool, exactness: bool = False) -> str:
        """PASS/FAIL; INFO for goals about the exact (float32) computation in a bf16 run."""
        return "INFO" if exactness and approximate else ("PASS" if ok else "FAIL")

    def speedup(row, with_setup=False):
        return _t(results, peer, with_setup) / _t(results, row, with_setup) if peer else float("nan")

    if peer and "ours_exact" in results:
        s, s2 = speedup("ours_exact"), speedup("ours_exact", True)
        if "reference" in maps:
            r = _agreement(maps["ours_exact"], maps["reference"])[0]
            ok, r_text = s >= 5 and r >= 0.999, f"r = {r:.6f}"
        else:  # --quick skips the reference loop: only the speed part is judged
            ok, r_text = s >= 5, "r not measured (--quick; tests check it)"
        if approximate:
            r_text += " (bf16 scoring: an approximation, so the exact goal is judged in fp32 runs)"
        print(f"  {verdict(ok, exactness=True)}  exact Score-CAM >= 5x faster than the faster peer "
              f"({LABELS[peer]}) with r >= 0.999 vs the reference: {s:.2f}x [{s2:.2f}x], "
              f"{r_text}")
        own = _engine_floor(floor or {}, results["ours_exact"].get("engine"))
        if own:
            ratio = _t(results, "ours_exact") / own
            print(f"  {verdict(ratio <= 1.25)}  exact Score-CAM within 1.25x of its engine's C-forward floor "
                  f"({results['ours_exact']['engine']}): {ratio:.2f}x")
    for row in [f"ours_exact_{e}" for e in CPU_ENGINES]:
        if row in maps and "ours_exact_torch" in maps:
            r = _agreement(maps[row], maps["ours_exact_torch"])[0]
            print(f"  {verdict(r >= 0.9999, exactness=True)}  {LABELS[row]}: Pearson >= 0.9999 with the torch "
                  f"engine's map: {r:.6f}")
    for row in ("ours_topk_64", "ours_topk_128"):
        if peer and row in maps and "ours_exact" in maps:
            rho = _agreement(maps[row], maps["ours_exact"])[1]
            s, s2 = speedup(row), speedup(row, True)
            vs_exact = _t(results, "ours_exact") / _t(results, row)
            print(f"  {verdict(s >= 30 and rho >= 0.95)}  {LABELS[row]} >= 30x faster than the "
                  f"faster peer with Spearman >= 0.95 vs exact: {s:.1f}x [{s2:.1f}x] "
                  f"({vs_exact:.1f}x vs our exact), Spearman = {rho:.4f}")
    if "ours_mc_gradcam_t30" in results and "captum_gradcam" in results:
        ratio = _t(results, "ours_mc_gradcam_t30") / _t(results, "captum_gradcam")
        print(f"  {verdict(ratio <= 2)}  MC-dropout Grad-CAM T=30 <= 2x one Grad-CAM: "
              f"{ratio:.2f}x ({_t(results, 'ours_mc_gradcam_t30') * 1e3:.0f} ms vs "
              f"{_t(results, 'captum_gradcam') * 1e3:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="128 px, fewer rows (no naive reference, pgc-definition or top-k "
                             "128 rows): under 2 minutes")
    parser.add_argument("--size", type=int, default=None, help="input side (default 224)")
    parser.add_argument("--batch", type=int, default=8, help="Score-CAM batch (ours, reference)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=1, help="runs per Score-CAM row (best)")
    parser.add_argument("--omp-wait-policy", default="PASSIVE",
                        help="PASSIVE (default), ACTIVE, or inherit")
    parser.add_argument("--engine", default="auto", choices=["auto", "torch", "onnxruntime", "openvino", "eager"],
                        help="forward engine of the ours_exact / ours_topk rows without an engine suffix")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                        help="scoring precision of our Score-CAM rows and the floor (default "
                             "fp32; the reference, peers and Grad-CAMs are always fp32)")
    parser.add_argument("--device", default="cpu",
                        help="device of the model and input in every row (cpu, cuda, cuda:1; "
                             "MC-dropout Grad-CAM stays on the CPU)")
    parser.add_argument("--rows", nargs="+", choices=METHODS, default=None,
                        help="rows to run (default: all, or the --quick set)")
    parser.add_argument("--checkpoint", default=None, help="classifier checkpoint (default: "
                        "ImageNet trunk + head seeded with torch.manual_seed(0))")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--floor-reps", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--floor-batches", type=int, nargs="+", default=[8, 16, 32, 64],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size is None:
        args.size = 128 if args.quick else 224
    args.quick_skip = ("reference", "ours_compat", "ours_topk_128",
                       *[f"ours_topk_128_{e}" for e in CPU_ENGINES])
    if args.row:
        child(args)
        return
    if args.quick:
        args.floor_reps, args.floor_batches = 2, [16, 32]
    parent(args)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
