"""`garment-studio calibrate`: fit the table plane from a photo of a board, or print a board."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HELP = "Calibrate the table plane from a photo (ChArUco, ArUco, checkerboard or two points); print boards."


# Below 72 dpi the marker edges blur when printed; above 1200 no printer resolves more and the page image
# runs to gigabytes.
DPI_RANGE = (72, 1200)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", nargs="?", help="photo of the calibration target lying flat on the table")
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--charuco",
        metavar="SPEC",
        help="ChArUco board COLSxROWS:SQUARE_MM:MARKER_MM[:DICT], "
        "e.g. 7x5:40:30:DICT_5X5_100 (the default board)",
    )
    target.add_argument(
        "--aruco", metavar="ID:SIZE_MM", help="one ArUco marker of known size (ID:SIZE_MM[:DICT])"
    )
    target.add_argument(
        "--checkerboard", metavar="COLSxROWS:SQUARE_MM", help="checkerboard, counting squares"
    )
    target.add_argument(
        "--two-point",
        metavar="X1,Y1,X2,Y2:LENGTH_MM",
        help="two image points a known distance apart (straight-down views only)",
    )
    parser.add_argument("-o", "--output", metavar="CALIB.json", help="where to write the calibration")
    parser.add_argument(
        "--intrinsics",
        metavar="CALIB.json",
        help="reuse the lens intrinsics stored in an earlier calibration file",
    )
    parser.add_argument(
        "--intrinsic-views",
        nargs="+",
        metavar="IMAGE",
        help="several tilted ChArUco photos to compute lens intrinsics from first",
    )
    parser.add_argument(
        "--print-board",
        metavar="OUT.png|OUT.pdf",
        help="write a printable board at true size (the --charuco/--aruco/--checkerboard target)",
    )
    parser.add_argument(
        "--paper", choices=("a4", "letter", "a3"),
        help="with --print-board: lay the board out on this sheet (5 mm margins) instead of a page of the "
        "board's own size (300 x 220 mm for the default board: A3); the default board fits A4, not Letter",
    )
    parser.add_argument(
        "--dpi", type=float, default=300.0,
        help=f"resolution of the printable board, {DPI_RANGE[0]}-{DPI_RANGE[1]} (default 300)",
    )


def _same_file(a: str, b: str) -> bool:
    """Do two paths name one file (also through links or another spelling)?"""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return Path(a).resolve() == Path(b).resolve()


def _print_board(args) -> None:
    from app.cli.errors import CliError
    from measure.boards import ArucoSpec, BoardSpecError, CharucoSpec, CheckerboardSpec
    from measure.printable import print_instructions, write_printable_page

    if not DPI_RANGE[0] <= args.dpi <= DPI_RANGE[1]:  # also refuses nan and inf
        raise CliError(f"--dpi must be between {DPI_RANGE[0]} and {DPI_RANGE[1]}, got {args.dpi:g}", 2)
    if args.image and _same_file(args.print_board, args.image):
        raise CliError(f"--print-board {args.print_board} is the photo to calibrate from: give another file", 2)
    paper = getattr(args, "paper", None)
    try:
        if args.aruco:
            spec = ArucoSpec.parse(args.aruco)
        elif args.checkerboard:
            spec = CheckerboardSpec.parse(args.checkerboard)
        elif args.two_point:
            raise CliError("a two-point reference has no printable board")
        else:
            spec = CharucoSpec.parse(args.charuco) if args.charuco else CharucoSpec()
        layout = write_printable_page(spec, args.print_board, args.dpi, paper)
    except (BoardSpecError, ValueError) as exc:
        raise CliError(str(exc), 2) from None
    except OSError as exc:
        raise CliError(f"cannot write {args.print_board}: {exc}") from None
    width, height = layout.page_mm
    print(f"wrote {args.print_board}: {spec} on a {width:.1f} x {height:.1f} mm page at {args.dpi:g} dpi")
    for line in print_instructions(spec, layout):
        print(line)


def load_image(path: str):
    """Read a photo as BGR uint8 (paths with any characters), or fail naming the file."""
    import cv2
    import numpy as np

    from app.cli.errors import CliError

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise CliError(f"cannot read image {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise CliError(f"cannot read image {path}: not a supported image file")
    return image


def calibrate_from_args(args, image, intrinsics=(None, None)):
    """The calibration the target options ask for; shared with `measure --charuco`."""
    from app.cli.errors import CliError
    from measure.boards import BoardSpecError
    from measure.calibration import CalibrationError
    from measure.detect import calibrate_aruco, calibrate_charuco, calibrate_checkerboard, calibrate_two_point

    camera_matrix, dist = intrinsics
    try:
        if getattr(args, "aruco", None):
            return calibrate_aruco(image, args.aruco, camera_matrix, dist)
        if getattr(args, "checkerboard", None):
            return calibrate_checkerboard(image, args.checkerboard, camera_matrix, dist)
        if getattr(args, "two_point", None):
            return calibrate_two_point(args.two_point, (image.shape[1], image.shape[0]), camera_matrix, dist)
        return calibrate_charuco(image, args.charuco or "7x5:40:30:DICT_5X5_100", camera_matrix, dist)
    except BoardSpecError as exc:
        raise CliError(str(exc), 2) from None
    except CalibrationError as exc:
        raise CliError(f"{args.image}: {exc}") from None


def _intrinsics(args, image_size: tuple[int, int]):
    """Lens intrinsics for a photo of ``image_size`` (w, h): from --intrinsics or --intrinsic-views, which
    must have been made at that size (a camera matrix is in pixels of its images)."""
    from app.cli.errors import CliError
    from measure.calibration import Calibration, CalibrationError
    from measure.detect import calibrate_intrinsics

    if args.intrinsics:
        try:
            source = Calibration.load(args.intrinsics)
        except CalibrationError as exc:
            raise CliError(str(exc)) from None
        if not source.has_intrinsics:
            raise CliError(f"{args.intrinsics} holds no lens intrinsics")
        try:
            return source.intrinsics_for(*image_size)
        except CalibrationError as exc:
            raise CliError(f"{args.intrinsics}: {exc}", 2) from None
    if args.intrinsic_views:
        images = [load_image(p) for p in args.intrinsic_views]
        for path, view in zip(args.intrinsic_views, images, strict=True):
            if (view.shape[1], view.shape[0]) != tuple(image_size):
                raise CliError(
                    f"intrinsics view {path} is {view.shape[1]}x{view.shape[0]}, the photo {image_size[0]}x"
                    f"{image_size[1]}: lens intrinsics apply to photos of the size they were computed on", 2
                )
        try:
            camera_matrix, dist, rms = calibrate_intrinsics(images, args.charuco or "7x5:40:30:DICT_5X5_100")
        except CalibrationError as exc:
            raise CliError(f"intrinsics: {exc}") from None
        print(
            f"intrinsics from {len(images)} views: RMS {rms:.3f} px, fx {camera_matrix[0, 0]:.1f}, "
            f"fy {camera_matrix[1, 1]:.1f}"
        )
        return camera_matrix, dist
    return None, None


def run(args) -> int:
    from app.cli.errors import CliError

    if getattr(args, "paper", None) and not args.print_board:
        raise CliError("--paper lays out a printed board: give --print-board OUT.pdf too", 2)
    if args.print_board:
        _print_board(args)
        if not args.image:
            return 0
    if not args.image:
        raise CliError("give a photo of the board to calibrate from (or --print-board OUT.png|OUT.pdf)", 2)
    if not args.output:
        raise CliError("give -o CALIB.json to write the calibration to", 2)
    for other, what in ((args.image, "the photo to calibrate from"), (args.print_board, "the printed board")):
        if other and _same_file(args.output, other):
            raise CliError(f"-o {args.output} is {what}: give another file for the calibration", 2)
    image = load_image(args.image)
    calibration = calibrate_from_args(args, image, _intrinsics(args, (image.shape[1], image.shape[0])))
    try:
        calibration.save(args.output)
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"{calibration.method} calibration from {args.image}: {calibration.num_points} points")
    print(
        f"reprojection error: {calibration.reprojection_error_px:.3f} px, {calibration.reprojection_error_mm:.3f} mm"
    )
    print(f"scale at image centre: {calibration.mm_per_px:.4f} mm/px")
    for warning in calibration.warnings:
        print(f"warning: {warning}")
    print(f"wrote {args.output}")
    return 0
