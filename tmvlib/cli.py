"""``tmv``: run chapters with papermill and build the book. The Makefile is the front door.

    tmv chapter 01 --profile default -p negatives=all -p seed=1
    tmv book --profile default
    tmv refs                      # refresh the ci references (tests/notebooks/, tests/references/ci/)
    tmv compare RUN_A RUN_B       # every value of two runs side by side; exit 0 identical, 1 not
    tmv data download DEST        # NIH official files (resumable, checksummed)
    tmv data prepare SOURCE OUT   # official NIH / CheXpert files -> the prepared 256-px layout
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml

from .config import CHAPTER_ORDER, project_root

# Exit statuses (sysexits.h where one fits); the README lists them.
EXIT_CHAPTER_FAILED = 1   # a chapter's notebook raised (tmv chapter / book / refs)
EXIT_USAGE = 64           # a bad command line or parameter (EX_USAGE)
EXIT_NOT_READY = 66       # an upstream chapter is missing, interrupted, changed or stale (EX_NOINPUT)
EXIT_LOCKED = 75          # another process holds the run folder; retry later (EX_TEMPFAIL)
MAX_FAILED_STATUS = 63    # tmv predict: files without a card, capped below EXIT_USAGE


class TmvExit(SystemExit):
    """Stop the command with ``status`` after printing ``message`` to stderr (``str()`` of the
    exception is the message, so tests can match it)."""

    def __init__(self, message: str, status: int):
        super().__init__(status)
        self.message = message

    def __str__(self) -> str:
        return self.message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.print_usage(sys.stderr)
        raise TmvExit(f"{self.prog}: error: {message}", EXIT_USAGE)


def chapter_name(key: str, root: Path) -> str:
    """``"01"`` or ``"01_data"`` -> ``"01_data"`` (the notebook must exist)."""
    matches = sorted(p.stem for p in (root / "notebooks").glob(f"{key}*.ipynb"))
    if len(matches) != 1:
        raise TmvExit(f"chapter {key!r}: expected one notebook notebooks/{key}*.ipynb, found {matches}", EXIT_USAGE)
    return matches[0]


def parse_overrides(pairs: list[str]) -> dict:
    """``["a=1", "b=[x, y]"]`` -> ``{"a": 1, "b": ["x", "y"]}`` (values parsed as YAML)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise TmvExit(f"parameter override {pair!r} is not key=value", EXIT_USAGE)
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def chapter_params_or_exit(name: str, profile: str, overrides: dict | None, root: Path) -> dict:
    """The chapter's resolved params; a mistyped key or value (or no params file) exits with the
    message, before anything runs."""
    from .config import load_params
    from .contracts import ParamsError

    try:
        return load_params(name, profile, overrides, root=root)
    except (ParamsError, FileNotFoundError) as err:
        raise TmvExit(f"[tmv] {err}", EXIT_USAGE) from None


@contextmanager
def run_errors():
    """Turn a held run lock into :data:`EXIT_LOCKED` and an upstream chapter that is not complete
    (:class:`tmvlib.runs.RunStateError`) into :data:`EXIT_NOT_READY`, each with its message."""
    from .runs import RunLocked, RunStateError

    try:
        yield
    except RunLocked as err:
        raise TmvExit(f"[tmv] {err}", EXIT_LOCKED) from None
    except RunStateError as err:
        raise TmvExit(f"[tmv] {err}", EXIT_NOT_READY) from None


def run_chapter(key: str, profile: str = "default", overrides: dict | None = None,
                output_dir: Path | None = None, root: Path | None = None) -> Path:
    """Execute one chapter notebook with its profile's params; return the executed copy's path.

    The params are validated before papermill starts and the run is held and checked
    (:func:`tmvlib.runs.chapter_session`): after a successful run its full resolved params are
    recorded in the run's ``config.yaml`` and its completion record is written. A failing
    notebook exits with :data:`EXIT_CHAPTER_FAILED` (the executed copy keeps the error).
    """
    from .config import profile_environment
    from .runs import chapter_session
    from .runs.glue import notebook_glue, write_glue

    root = root or project_root()
    name = chapter_name(key, root)
    params = chapter_params_or_exit(name, profile, overrides, root)
    run_id = params.get("run_id", profile)
    output_dir = output_dir or root / "book"
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / f"{name}.ipynb"
    command = f"tmv chapter {name} --profile {profile}" + "".join(f" -p {k}={v}" for k, v in (overrides or {}).items())
    with run_errors(), chapter_session(run_id, name, params, command, root):
        shown = output.relative_to(root) if output.is_relative_to(root) else output  # an output_dir elsewhere
        print(f"[tmv] running {name} (profile {profile}) -> {shown}", flush=True)
        # Progress bars help a person in a live notebook; in the rendered book they are noise.
        os.environ.setdefault("TMV_PROGRESS", "0")
        os.environ.update(profile_environment(profile))  # the kernel inherits it (ci: 2 torch threads)
        import papermill as pm

        try:
            pm.execute_notebook(str(root / "notebooks" / f"{name}.ipynb"), str(output), parameters=params,
                                cwd=str(output_dir), kernel_name="python3", progress_bar=False,
                                log_output=False, request_save_on_cell_execute=False)
        except Exception as err:  # PapermillExecutionError carries the failing cell's traceback
            raise TmvExit(f"\n[tmv] chapter {name} failed; the executed copy with the error is "
                          f"{output}\n{err}", EXIT_CHAPTER_FAILED) from None
        write_glue(run_id, name, notebook_glue(output), root)  # before the completion record
    return output


def chapters_in_toc(root: Path) -> list[str]:
    """Chapter names listed in ``_toc.yml``, in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [Path(entry["file"]).name for entry in toc.get("chapters", [])]
    return [name for name in names if name in CHAPTER_ORDER]


def chapters_from(chapters: list[str], start: str) -> list[str]:
    """``chapters`` from the first whose name starts with ``start`` (``"06"``, ``"06_stability"``).

    Raises TmvExit (usage) naming the book's chapters when none does."""
    for k, name in enumerate(chapters):
        if name.startswith(start):
            return chapters[k:]
    raise TmvExit(f"[tmv] no chapter starts with {start!r}; the book's chapters are {', '.join(chapters)}", EXIT_USAGE)


def write_vega_bundle(root: Path) -> Path:
    """Write the vega/vega-lite/vega-embed bundle once, as a static file of the book."""
    import vl_convert

    from .report.charts import VEGA_GLOBAL

    target = root / "book" / "_static" / "tmv-vega.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    import altair as alt

    # Bundle the Vega-Lite version altair writes its specs for.
    vl_version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    bundle = vl_convert.javascript_bundle(f"window.{VEGA_GLOBAL} = vegaEmbed;\n", vl_version=vl_version)
    # A function scope keeps the bundle's top-level names (``_``, ``t``...) from clashing with
    # the theme's globals in a classic <script>.
    target.write_text("(function () {\n" + bundle + "\n})();\n")
    return target


def render_book(root: Path, quiet: bool = False) -> Path:
    """Render the executed notebooks and pages under ``root`` into ``root/book/_build/html``.

    Writes the vega bundle, runs ``jupyter-book build`` (warnings are errors) and refuses HTML that
    loads scripts from the network. ``root`` holds ``_config.yml``, ``_toc.yml`` and ``book/``:
    the project itself (``tmv book``) or a copy of it (the browser test renders the committed
    ``ci`` notebooks in a temporary folder). ``quiet``: keep jupyter-book's log unless it fails.
    """
    write_vega_bundle(root)
    if not quiet:
        print("[tmv] rendering the book with jupyter-book", flush=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run([str(jupyter_book), "build", str(root), "--path-output",
                           str(root / "book"), "--warningiserror", "--keep-going"],
                          check=False, cwd=root, capture_output=quiet, text=True)
    if done.returncode:
        log = (done.stdout or "") + (done.stderr or "")
        raise SystemExit(f"[tmv] jupyter-book build of {root} failed (exit {done.returncode})"
                         + (f":\n{log[-6000:]}" if log else ""))
    html = root / "book" / "_build" / "html"
    remote = remote_scripts(html)
    if remote:
        raise SystemExit(f"[tmv] the book loads scripts from the network, so offline readers "
                         f"would lose charts: {remote[:5]}")
    return html


def build_book(profile: str = "default", start: str | None = None, root: Path | None = None) -> Path:
    """Run every chapter in ``_toc.yml`` in order (from ``start``), then render the HTML."""
    root = root or project_root()
    chapters = chapters_in_toc(root)
    if start:
        chapters = chapters_from(chapters, start)
    seconds: dict[str, float] = {}
    run_id = chapter_params_or_exit(chapters[0], profile, None, root).get("run_id", profile)
    from .runs import run_lock

    with run_errors(), run_lock(run_id, True, f"tmv book --profile {profile}", root):
        for name in chapters:
            started = time.perf_counter()
            run_chapter(name, profile, root=root)
            seconds[name] = time.perf_counter() - started
    html = render_book(root)
    index = html / "index.html"
    print(f"[tmv] chapter times (profile {profile}): " + ", ".join(
        f"{name} {sec / 60:.1f} min" for name, sec in seconds.items())
        + f"; total {sum(seconds.values()) / 60:.1f} min")
    print(f"[tmv] book ready: {index}")
    return index


def remote_scripts(html_dir: Path) -> list[str]:
    """``page: src`` for every ``<script src>`` that points off the site (http, https, //)."""
    pattern = re.compile(r"<script[^>]*\bsrc=[\"']((?:https?:)?//[^\"']+)", re.IGNORECASE)
    return [f"{page.relative_to(html_dir)}: {src}" for page in sorted(html_dir.rglob("*.html"))
            for src in pattern.findall(page.read_text(errors="replace"))]


def refresh_references(root: Path | None = None, start: str | None = None) -> None:
    """Execute every chapter (from ``start``, the earlier ones kept as they ran) with the ``ci``
    profile into ``tests/notebooks/`` (nbval references), then write the ci run's values into
    ``tests/references/ci/`` (the numeric regression's references; a value within its tolerance
    of the old reference keeps the old line)."""
    from .runs.references import CI_REFERENCES, reference_values, write_references
    from .runs.tolerance import ci_tolerance

    root = root or project_root()
    run_id = "ci"
    chapters = chapters_in_toc(root)
    if start:
        chapters = chapters_from(chapters, start)
    for name in chapters:
        clean_reference(run_chapter(name, "ci", output_dir=root / "tests" / "notebooks", root=root), root)
        run_id = chapter_params_or_exit(name, "ci", None, root).get("run_id", run_id)
    from .config import run_dir, splits_dir

    values = reference_values(run_dir(run_id, root), splits_dir(run_id, root))
    counts = write_references(values, root / CI_REFERENCES, ci_tolerance)
    print(f"[tmv] {root / CI_REFERENCES}: {counts['moved']} value(s) moved beyond their tolerance, "
          f"{counts['added']} added, {counts['removed']} removed, {counts['kept']} kept; "
          "review the diff (git diff tests/references) before committing")


def clean_reference(path: Path, root: Path) -> None:
    """Make an executed reference notebook machine-independent: papermill's input and output
    paths relative to ``root``, the checkout's path in outputs (warnings name their file) as
    ``.``, and no run times (they differ on every run and every machine)."""
    import json

    nb = json.loads(path.read_text())
    meta = nb.get("metadata", {}).get("papermill", {})
    for key in ("input_path", "output_path"):
        if meta.get(key):
            meta[key] = Path(os.path.relpath(meta[key], root)).as_posix()
    for key in ("duration", "start_time", "end_time"):
        meta.pop(key, None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    path.write_text(text.replace(str(root.resolve()) + "/", "./"))


def run_folders(run: str, splits: Path | None) -> tuple[Path, Path | None]:
    """A run given as a folder or a run id -> (run folder, its splits folder or None)."""
    from .config import artifacts_dir

    folder = Path(run)
    if not folder.is_dir() and "/" not in run:
        folder = artifacts_dir() / "runs" / run
    if not folder.is_dir():
        raise TmvExit(f"[tmv] compare: no run folder {run!r} (give artifacts/runs/<id> or a run id)",
                      EXIT_USAGE)
    if splits is None:
        beside = folder.parent.parent / "splits" / folder.name
        splits = beside if beside.is_dir() else None
    return folder, splits


def compare_command(args) -> int:
    """``tmv compare``: print every difference (up to ``--limit``) and a summary; 0 when the two
    runs are identical within the tolerance, 1 otherwise."""
    from .runs.compare import compare_runs, spreads
    from .runs.tolerance import ci_tolerance, uniform
    from .runs.values import run_values

    run_a, splits_a = run_folders(args.run_a, args.splits_a)
    run_b, splits_b = run_folders(args.run_b, args.splits_b)
    tolerance_of = ci_tolerance if args.ci_tolerances else uniform(args.atol, args.rtol)
    result = compare_runs(run_a, run_b, splits_a, splits_b, tolerance_of, binaries=not args.no_binaries)
    for difference in result.differences[: args.limit]:
        print(difference)
    if len(result.differences) > args.limit:
        print(f"... and {len(result.differences) - args.limit} more (--limit)")
    if args.spread:  # by the kinds of the ci regression, whatever the tolerance compared with
        for found in spreads(run_values(run_a, splits_a), run_values(run_b, splits_b), ci_tolerance):
            print(f"spread {found.kind}: largest move {found.largest:.3g} of {found.compared} numbers "
                  f"({found.key}); {found.reworded} text(s) reworded")
    print(f"[tmv] {run_a} vs {run_b}: {result.summary()}")
    return 0 if result.identical else 1


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def require_run_folder(run_id: str, root: Path | None = None) -> Path:
    """The folder of run ``run_id`` for a command that reads it; :class:`TmvExit`
    (:data:`EXIT_NOT_READY`) saying where the project was looked for, how it was found and how
    to point ``tmv`` at another, when the run has never run there. Creates nothing."""
    from .config import artifacts_dir, find_project_root

    root, how = (Path(root), "given") if root else find_project_root()
    folder = artifacts_dir(root) / "runs" / run_id
    if not (folder / "records").is_dir():
        raise TmvExit(f"[tmv] no run {run_id!r} at {folder}: the project folder is {root} ({how}). Run the book "
                      f"there (make book), or point tmv at the project that has run it: --root DIR or TMV_ROOT=DIR",
                      EXIT_NOT_READY)
    return folder


def predict(images: list[Path], run_id: str, out: Path | None = None,
            scorecam_top_k: int | None = None, root: Path | None = None) -> int:
    """Write a trust card for each image, one at a time; returns the number of images without a
    card.

    A file that cannot be read (missing, empty, corrupt, not an image, a decompression bomb) is
    named on stderr and skipped, and so is one whose prediction fails; the next file is still
    read. The models load at the first readable file, after the run is checked: chapter 08 and
    everything it read must be complete and current (else :data:`EXIT_NOT_READY`), and the run is
    held with a shared lock, so no chapter rewrites it meanwhile (:data:`EXIT_LOCKED` if one is).
    Memory stays flat: each image is decoded, carded, written and released before the next.
    """
    from .card import TrustCardPredictor, read_radiograph, write_card
    from .card.render import headline
    from .data.errors import ImageLoadError
    from .runs import require_complete, run_lock
    from .runtime import tune_cpu_allocator

    failed = written = 0
    predictor, first_card_mb = None, None
    with ExitStack() as stack:
        for path in images:
            try:
                radiograph = read_radiograph(path)
            except ImageLoadError as err:
                print(f"[tmv] no card: {err}", file=sys.stderr)
                failed += 1
                continue
            if predictor is None:  # bad input alone never loads a model
                folder = require_run_folder(run_id, root)
                stack.enter_context(run_errors())
                stack.enter_context(run_lock(run_id, False, "tmv predict", root))
                require_complete(run_id, ["08_trust_card"], "tmv predict", root)
                tune_cpu_allocator()
                predictor = TrustCardPredictor.from_run(run_id, scorecam_top_k)
                out = out or folder / "predictions"  # chapter 08 owns cards/
            try:
                result = predictor.predict(radiograph, image_id=path.stem)
                paths = write_card(out, result)
            except Exception as err:  # noqa: BLE001 - one image's failure must not stop the batch
                print(f"[tmv] no card: {path}: prediction failed ({type(err).__name__}: {err})", file=sys.stderr)
                failed += 1
                continue
            finally:
                del radiograph
            written += 1
            first_card_mb = first_card_mb or peak_rss_mb()
            print(f"[tmv] {path}: {headline(result.record)}")
            for warning in result.record["warnings"]:
                print(f"      ! {warning}")
            print(f"      card: {paths['html']} (+ .png, .json)")
    memory = (f"; peak memory {peak_rss_mb():.0f} MB ({first_card_mb:.0f} MB after the first card)"
              if first_card_mb else "")
    print(f"[tmv] {written} card(s) written, {failed} file(s) without a card{memory}",
          file=sys.stderr if failed else sys.stdout)
    return failed


def main(argv: list[str] | None = None) -> None:
    """The ``tmv`` command line (see the module docstring); ``argv`` defaults to ``sys.argv``."""
    try:
        _main(argv)
    except TmvExit as err:  # print the message, exit with the status
        print(err.message, file=sys.stderr)
        raise SystemExit(err.code) from None


def _main(argv: list[str] | None) -> None:
    parser = _Parser(prog="tmv", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_chapter = sub.add_parser("chapter", help="run one chapter")
    p_chapter.add_argument("chapter")
    p_chapter.add_argument("--profile", default="default")
    p_chapter.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    p_book = sub.add_parser("book", help="run all chapters and build the HTML")
    p_book.add_argument("--profile", default="default")
    p_book.add_argument("--from", dest="start", default=None, help="first chapter to run, e.g. 02")
    refs = sub.add_parser("refs", help="refresh the ci references: nbval notebooks and the numeric references")
    refs.add_argument("--from", dest="start", default=None, help="rerun from this chapter (e.g. 06), keeping the earlier ones as they ran")
    p_compare = sub.add_parser("compare", help="compare two runs value by value (exit 0 identical, 1 not)")
    p_compare.add_argument("run_a", help="a run folder (artifacts/runs/<id>) or a run id")
    p_compare.add_argument("run_b", help="a run folder or a run id")
    p_compare.add_argument("--splits-a", type=Path, default=None,
                           help="run A's splits folder (default: artifacts/splits/<id> beside it)")
    p_compare.add_argument("--splits-b", type=Path, default=None, help="run B's splits folder")
    p_compare.add_argument("--rtol", type=float, default=0.0, help="relative tolerance on floats")
    p_compare.add_argument("--atol", type=float, default=0.0, help="absolute tolerance on floats")
    p_compare.add_argument("--ci-tolerances", action="store_true",
                           help="each kind of quantity within the ci regression's tolerance")
    p_compare.add_argument("--no-binaries", action="store_true", help="skip PNG and HTML bytes")
    p_compare.add_argument("--spread", action="store_true",
                           help="also print the largest move of each kind of quantity")
    p_compare.add_argument("--limit", type=int, default=200, help="differences printed (default 200)")
    p_predict = sub.add_parser("predict", help="trust cards (HTML, PNG, JSON) for radiographs")
    p_predict.add_argument("images", nargs="+", type=Path, help="PNG, JPEG or (with pydicom) DICOM files")
    p_predict.add_argument("--run", default="default", help="run whose chapters 02-08 to use")
    p_predict.add_argument("--out", type=Path, default=None,
                           help="output folder (default artifacts/runs/<run>/predictions)")
    p_predict.add_argument("--scorecam-top-k", type=int, default=None,
                           help="fast Score-CAM on the k most varied channels (default: exact)")
    p_predict.add_argument("--root", type=Path, default=None,
                           help="the project folder whose run to use (default: TMV_ROOT, the folders above "
                                "this one, else the checkout tmvlib is installed from)")
    p_data = sub.add_parser("data", help="download or prepare the data")
    data_sub = p_data.add_subparsers(dest="data_command", required=True)
    p_down = data_sub.add_parser("download", help="download the official NIH files")
    p_down.add_argument("dest", type=Path)
    p_prep = data_sub.add_parser("prepare", help="official files -> prepared 256-px layout")
    p_prep.add_argument("dataset", choices=["nih14", "chexpert"])
    p_prep.add_argument("source", type=Path)
    p_prep.add_argument("out", type=Path)
    p_prep.add_argument("--on-bad-image", choices=["raise", "exclude"], default="raise")
    args = parser.parse_args(argv)

    if args.command == "chapter":
        from .config import later_chapters_recorded

        overrides = parse_overrides(args.param)
        output = run_chapter(args.chapter, args.profile, overrides)
        run_id = chapter_params_or_exit(output.stem, args.profile, overrides, project_root()).get(
            "run_id", args.profile)
        stale = later_chapters_recorded(run_id, output.stem)
        if stale:
            print(f"[tmv] {', '.join(stale)} of run {run_id!r} were computed from this chapter's "
                  "previous artifacts; rerun them (make book) to bring them up to date")
    elif args.command == "book":
        build_book(args.profile, args.start)
    elif args.command == "refs":
        refresh_references(start=args.start)
    elif args.command == "compare":
        raise SystemExit(compare_command(args))
    elif args.command == "predict":
        if args.root is not None:  # every lookup of this command (the run, its chapters' params) uses it
            os.environ["TMV_ROOT"] = str(args.root.resolve())
        failed = predict(args.images, args.run, args.out, args.scorecam_top_k)
        raise SystemExit(min(failed, MAX_FAILED_STATUS))
    elif args.data_command == "download":
        from .data.download import download_nih
        download_nih(args.dest)
    else:
        from .data import prepare
        run = prepare.prepare_nih if args.dataset == "nih14" else prepare.prepare_chexpert
        report = run(args.source, args.out, on_bad_image=args.on_bad_image)
        print(report.to_frame().to_string())


if __name__ == "__main__":
    main()
