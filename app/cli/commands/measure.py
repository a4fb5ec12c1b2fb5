"""`garment-studio measure`: points of measure in cm on the calibrated table plane, with spec pass/fail."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.pipeline_options import add_pipeline_options, pipeline_options

HELP = "Measure garments in a photo (model or given DF2 keypoints) on a calibrated table plane."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="photo of the garment(s) lying flat on the table")
    scale = parser.add_mutually_exclusive_group(required=True)
    scale.add_argument(
        "--charuco",
        metavar="SPEC",
        help="calibrate from a ChArUco board in the same photo, "
        "COLSxROWS:SQUARE_MM:MARKER_MM[:DICT], e.g. 7x5:40:30:DICT_5X5_100",
    )
    scale.add_argument("--calibration", metavar="CALIB.json", help="a calibration written by `calibrate`")
    scale.add_argument(
        "--mm-per-px", type=float, metavar="X", help="a known uniform scale (straight-down view)"
    )
    parser.add_argument(
        "--keypoints",
        metavar="DF2.json",
        help="measure these DeepFashion2 per-image keypoints instead of running the model",
    )
    parser.add_argument(
        "--model", metavar="MODEL_CARD.json", help="model card (default: with --project, the project's active version; else the bundled bootstrap model)"
    )
    parser.add_argument(
        "--category",
        metavar="ID_OR_NAME",
        help="QC mode: the style under test fixes the DF2 category (e.g. trousers); the model's boxes are "
        "kept and its landmarks predicted for this category (with --keypoints: the file's garments must be "
        "of this category)",
    )
    parser.add_argument(
        "--provider", default="auto", help="ONNX Runtime provider for the model (default auto)"
    )
    add_pipeline_options(parser, default_on=True)
    parser.add_argument(
        "--poms", metavar="POMS.json", help="your POM definitions, merged over the bundled ones"
    )
    parser.add_argument("--only", metavar="NAME[,NAME]", help="measure only these POMs")
    parser.add_argument(
        "--spec", metavar="SPEC.csv", help="spec sheet: pom,size,target_cm,tolerance_cm[,category]"
    )
    parser.add_argument("--size", help="size to check against the spec sheet")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--project",
        metavar="PROJECT.db",
        help="also keep the photo, its garments, the calibration and the measurements in this project "
        "(created if missing); corrections already made there are kept and are what gets measured",
    )


def _read_keypoints(path: str) -> list:
    """Garments from a DeepFashion2 per-image JSON (item1..itemN) or from `predict`'s JSON (``garments``),
    or a clear error naming the item."""
    from app.cli.errors import CliError
    from app.datasets.common import DatasetError
    from app.datasets.deepfashion2 import decode_item

    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read keypoints file {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise CliError(f"{path}: expected a JSON object: a DeepFashion2 file (item1..itemN) or `predict`'s output")
    if isinstance(doc.get("garments"), list):
        return _decode_predicted(path, doc["garments"])
    items = sorted((k for k in doc if k.startswith("item") and k[4:].isdigit()), key=lambda k: int(k[4:]))
    if not items:
        raise CliError(f"{path}: no item1..itemN entries (DeepFashion2) and no garments list (`predict --out`)")
    garments = []
    for key in items:
        try:
            garments.append(decode_item(doc[key]))
        except DatasetError as exc:
            raise CliError(f"{path} {key}: {exc}") from None
    return garments


def _decode_predicted(path: str, items: list) -> list:
    """`predict`'s garments: keypoints [x, y, score] with a visibility list (2 seen, 1 occluded, 0 absent);
    files written before the visibility list count every point as seen."""
    import math

    from app.cli.errors import CliError
    from inference.annotation import Garment, GarmentStatus, Keypoint, PointSource, Visibility
    from inference.schema import SchemaError, deepfashion2

    garments = []
    for number, item in enumerate(items, start=1):
        where = f"{path} garment {number}"
        try:
            category = deepfashion2().category(int(item["category_id"]))
            box = tuple(float(v) for v in item["bbox"])
            points = [(float(p[0]), float(p[1]), None if p[2] is None else float(p[2])) for p in item["keypoints"]]
            visibility = [int(v) for v in item.get("visibility", [2] * len(points))]
        except (KeyError, TypeError, ValueError, IndexError, SchemaError) as exc:
            raise CliError(f"{where}: not a `predict` garment ({exc})") from None
        if len(box) != 4 or len(points) != category.num_keypoints or len(visibility) != len(points):
            raise CliError(f"{where}: a {category.name} needs a 4-number bbox and {category.num_keypoints} "
                           "keypoints with as many visibilities")
        if not all(math.isfinite(v) for p in points for v in p[:2]) or any(v not in (0, 1, 2) for v in visibility):
            raise CliError(f"{where}: keypoints must be finite numbers and visibilities 0, 1 or 2")
        keypoints = tuple(
            Keypoint.absent() if v == 0 else Keypoint(x, y, Visibility(v), score, PointSource.MODEL)
            for (x, y, score), v in zip(points, visibility, strict=True)
        )
        score = item.get("score")
        garments.append(Garment(category.id, box, keypoints, None if score is None else float(score),
                                GarmentStatus.PREDICTED, None))
    return garments


def _check_inside(path: str, garments: list, width: int, height: int) -> None:
    """Landmarks off the photo mean the file was made for another photo (or another size of it): measuring
    them would give confident nonsense. Half a pixel of slack for points on the very edge."""
    from app.cli.errors import CliError
    from inference.annotation import Visibility

    for number, garment in enumerate(garments, start=1):
        for index, k in enumerate(garment.keypoints, start=1):
            if k.visibility != Visibility.ABSENT and not (-0.5 <= k.x <= width + 0.5 and -0.5 <= k.y <= height + 0.5):
                raise CliError(
                    f"{path}: garment {number} landmark {index} at ({k.x:g}, {k.y:g}) lies outside the "
                    f"{width}x{height} photo: were these keypoints made for another photo or another size of it?", 2
                )


def _run_model(args, image) -> list:
    from app.cli.errors import CliError

    try:
        from inference.pipeline import GarmentPipeline
    except ImportError as exc:
        raise CliError(
            f"the model runtime is not available ({exc}); pass --keypoints DF2.json to measure given points"
        ) from None
    card = args.model
    if card is None and args.project and Path(args.project).is_file():
        from app.cli.commands.predict import project_card

        card = project_card(Path(args.project))  # the project's active version, as the app and predict use
    try:
        pipeline = GarmentPipeline.from_card(card, provider=args.provider, **pipeline_options(args))
    except (OSError, ValueError, RuntimeError) as exc:
        where = card or "the bundled bootstrap model"
        raise CliError(
            f"cannot load {where}: {exc}; pass --keypoints DF2.json to measure given points"
        ) from None
    category = _category(args)
    if category is None:
        return list(pipeline(image, at_least_one=True))  # a measuring photo shows a garment
    return list(pipeline.predict_known_category(image, category.id))


def _category(args):
    """The DF2 category --category names (None without it), or a clear error."""
    from app.cli.errors import CliError
    from inference.schema import SchemaError, deepfashion2

    if args.category is None:
        return None
    try:
        return deepfashion2().category(int(args.category) if args.category.isdigit() else args.category)
    except SchemaError as exc:
        raise CliError(str(exc)) from None


def _check_category(args, garments) -> None:
    """Given keypoints keep their own category; a --category that says otherwise is a mistake (the wrong
    file or the wrong style), not something to settle silently either way."""
    from app.cli.errors import CliError
    from inference.schema import deepfashion2

    category = _category(args)
    if category is None:
        return
    for number, garment in enumerate(garments, start=1):
        if garment.category_id != category.id:
            found = deepfashion2().category(garment.category_id).name
            raise CliError(f"--category {category.name} contradicts {args.keypoints}: item{number} is a {found}", 2)


def _utc(moment):
    """The store's times are UTC; SQLite hands them back without a zone."""
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _same_points(held: list, given: list) -> bool:
    """Whether the project's garments are the file's: same categories and landmarks, in any order."""
    def key(g):
        return g.category_id, tuple((k.visibility, round(k.x, 6), round(k.y, 6)) for k in g.keypoints)

    return sorted(map(key, held)) == sorted(map(key, given))


def _calibration(args, image):
    from app.cli.commands.calibrate import calibrate_from_args
    from app.cli.errors import CliError
    from measure.calibration import Calibration, CalibrationError

    try:
        if args.mm_per_px is not None:
            return Calibration.from_scale(args.mm_per_px)
        if args.calibration:
            calibration = Calibration.load(args.calibration)
            calibration.check_image_size(image.shape[1], image.shape[0])
            return calibration
    except CalibrationError as exc:
        raise CliError(str(exc), 2) from None
    return calibrate_from_args(args, image)


def _load_spec(args, catalog):
    from app.cli.errors import CliError
    from measure.spec import SpecError, SpecSheet

    if not args.spec:
        if args.size:
            raise CliError("--size needs --spec SPEC.csv", 2)
        return None
    if not args.size:
        raise CliError("--spec needs --size SIZE", 2)
    try:
        sheet = SpecSheet.load(args.spec)
    except SpecError as exc:
        raise CliError(str(exc), 2) from None
    try:
        sheet.validate(catalog)
    except SpecError as exc:
        raise CliError(f"{args.spec}: {exc}", 2) from None
    if args.size not in sheet.sizes:
        raise CliError(f"{args.spec}: no size {args.size!r} (sizes: {', '.join(sheet.sizes)})", 2)
    for warning in sheet.warnings:  # columns it ignored: said once, not per garment
        print(f"garment-studio: warning: {warning}", file=sys.stderr)
    return sheet


def _garment_report(garment, calibration, catalog, only, sheet, size) -> dict:
    from app.cli.errors import CliError
    from inference.schema import deepfashion2
    from measure.measurements import garment_keypoint_array, measure_keypoints
    from measure.poms import PomError

    category = deepfashion2().category(garment.category_id)
    keypoints = garment_keypoint_array(garment)
    names = None
    not_applicable = []
    if only:
        cat_poms = catalog.for_category(category.id)
        names = [n for n in only if n in cat_poms.names]
        not_applicable = [n for n in only if n not in cat_poms.names]
    try:
        results = measure_keypoints(category.id, keypoints, calibration, catalog, names)
    except PomError as exc:
        raise CliError(str(exc), 2) from None
    report = {
        "category_id": category.id,
        "category": category.name,
        "score": garment.score,
        "bbox": [float(v) for v in garment.bbox],
        "keypoints": [[float(x), float(y), int(v)] for x, y, v in keypoints],
        "measurements": {name: m.to_dict() for name, m in results.items()},
        "spec": None,
    }
    if sheet:
        result = sheet.check(results, size, category.id, catalog)
        report["spec"] = {**result.to_dict(), "summary": result.summary}
    present = keypoints[keypoints[:, 2] > 0, :2]
    warning = calibration.extrapolation_warning(present)
    report["warnings"] = [warning] if warning else []
    if not_applicable:  # asked for by --only, and a garment of this category has no such POM
        report["warnings"].append(f"{', '.join(not_applicable)}: not a point of measure of a {category.name}")
    if garment.extra.get("weak_detection"):
        report["warnings"].insert(0, "no garment passed the detector's threshold: these are the measurements "
                                     "of its best guess; check the landmarks before trusting them")
    return report


def _print_table(payload: dict) -> None:
    from measure.spec import round_cm  # rounds as the verdict does: the value shown agrees with it

    cal = payload["calibration"]
    err = cal["reprojection_error_px"]
    print(
        f"{payload['image']}: {cal['method']} calibration, {cal['mm_per_px']:.4f} mm/px"
        + (f", reprojection {err:.3f} px" if err is not None else "")
    )
    for warning in cal.get("warnings", []):
        print(f"warning: {warning}")
    for index, garment in enumerate(payload["garments"], start=1):
        print(f"garment {index}: {garment['category']}")
        checks = (garment["spec"] or {}).get("poms", {})
        for name, value in garment["measurements"].items():
            shown = (
                f"{round_cm(value['cm']):8.2f} cm" if value["cm"] is not None else f"     n/a    ({value['reason']})"
            )
            if value.get("occluded_landmarks"):  # measured, but from landmarks nobody could see
                shown += f"  (occluded landmark {', '.join(map(str, value['occluded_landmarks']))})"
            check = checks.get(name)
            verdict = (
                f"  {check['status']} (target {check['target_cm']:g} ± {check['tolerance_cm']:g})"
                if check
                else ""
            )
            print(f"  {name:28s}{shown}{verdict}")
        if garment["spec"]:  # the verdict, and the sheet's POMs a garment of this category does not have
            print(f"  spec size {garment['spec']['size']}: {garment['spec']['summary']}")
        for warning in garment["warnings"]:
            print(f"  warning: {warning}")


def run(args) -> int:
    from app.cli.commands.calibrate import load_image
    from app.cli.errors import CliError
    from measure.poms import PomError, load_catalog

    try:
        catalog = load_catalog(args.poms)
    except PomError as exc:
        raise CliError(str(exc), 2) from None
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    if only:
        unknown = sorted(set(only) - catalog.all_names)
        if unknown:
            raise CliError(
                f"unknown POM {', '.join(map(repr, unknown))} (see resources/poms/deepfashion2.json)", 2
            )
    sheet = _load_spec(args, catalog)
    image = load_image(args.image)
    calibration = _calibration(args, image)
    if args.keypoints:
        garments = _read_keypoints(args.keypoints)
        _check_category(args, garments)
        _check_inside(args.keypoints, garments, image.shape[1], image.shape[0])
    else:
        garments = _run_model(args, image)
    stored = None
    if args.project:  # what gets reported is what the project holds, corrections included
        stored, garments = _store_in_project(args, garments, calibration, catalog)
    payload = {
        "image": args.image,
        "calibration": {
            "method": calibration.method,
            "reprojection_error_px": calibration.reprojection_error_px,
            "mm_per_px": calibration.mm_per_px,
            "warnings": list(calibration.warnings),
        },
        "garments": [_garment_report(g, calibration, catalog, only, sheet, args.size) for g in garments],
    }
    if args.json:
        print(json.dumps({**payload, "project": stored} if stored else payload, indent=2))
    else:
        _print_table(payload)
        if stored:
            print(f"stored in {stored['path']}: image #{stored['image_id']}, {stored['garments']} garments, "
                  f"{stored['measurements']} measurements (calibration {stored['calibration']!r})")
    return 0


def _store_in_project(args, garments, calibration, catalog) -> tuple[dict, list]:
    """The photo, its garments (model output as predictions, or given keypoints as imported labels), its
    calibration and the measurements of the garments as the project holds them; returns a summary and
    those garments (corrected ones kept over new predictions or labels), which are what gets reported."""
    import hashlib
    from pathlib import Path

    from app.cli.errors import CliError
    from app.store import StoreError
    from app.store.repository import ProjectStore
    from measure.measurements import measure_garment
    from measure.poms import PomError

    try:
        with ProjectStore.open(args.project, create=True) as store:
            report = store.add_images([Path(args.image).resolve()], source="measure")
            if report.errors:
                raise CliError(f"{args.project}: {report.errors[0]}", 2)
            image_id = report.results[0].image_id
            if args.keypoints:
                # The file is named with its content's hash: run again with the same file, the project's
                # garments (corrections included) are measured; another file, or this one changed since, is
                # refused rather than silently not measured.
                source = f"{args.keypoints} sha256:{hashlib.sha256(Path(args.keypoints).read_bytes()).hexdigest()}"
                held = [g for _, g in store.garments(image_id) if "layout" not in g.extra]
                imports = [e for e in store.history(image_id) if e.action == "import"]
                imported = {(e.new_value or {}).get("source") for e in imports}
                # imported before files were named with their hash: the same path, not written to since
                written = Path(args.keypoints).stat().st_mtime
                legacy = any((e.new_value or {}).get("source") == str(args.keypoints)
                             and written <= _utc(e.created_at).timestamp() for e in imports)
                if not held:
                    store.import_garments(image_id, garments, source=source)
                elif source not in imported and not legacy and not _same_points(held, garments):
                    raise CliError(
                        f"{args.project}: image #{image_id} already has {len(held)} garment(s) from elsewhere, and "
                        f"their landmarks differ from {args.keypoints}: run without --project to measure the file's "
                        "landmarks, or without --keypoints to measure the project's", 2
                    )
            # one profile per photo: a photo of another folder with the same name must not replace this one's
            name = f"image #{image_id} {Path(args.image).stem} ({calibration.method})"
            calibration_id = store.save_calibration(name, calibration.method, calibration.to_dict())
            store.set_image_calibration(image_id, calibration_id)
            if not args.keypoints:
                version = next((g.model_version for g in garments if g.model_version), None)
                store.store_predictions(image_id, garments, model_version=version)
            # FLD garments (another layout) have no DF2 points of measure
            stored = [(gid, g) for gid, g in store.garments(image_id) if "layout" not in g.extra]
            count = 0
            for garment_id, garment in stored:
                measured = measure_garment(garment, calibration, catalog)
                rows = [(m.name, m.mm, [list(p) for p in m.points_px], calibration_id)
                        for m in measured.values() if m.measurable]
                store.replace_measurements(garment_id, rows)
                count += len(rows)
            summary = {"path": str(args.project), "image_id": image_id, "garments": len(stored),
                       "measurements": count, "calibration": name}
            return summary, [garment for _, garment in stored]
    except (StoreError, PomError) as exc:
        raise CliError(str(exc), 2) from None  # the store's messages name the project file
