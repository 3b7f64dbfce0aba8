"""A folder of still images played as a camera (tests, demos, replaying saved frames).

Images are taken in natural name order (frame2 before frame10) and decoded with the vision
package's `read_image`, so every format and safety limit is the same as elsewhere. A corrupt
image is one bad frame (`FrameDecodeError`), not a broken camera.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from gateway.camera.errors import EndOfStream, FrameDecodeError, SourceOpenError, SourceReadError
from gateway.camera.source import Clock, Pacer, Sleeper, SourceFrame
from gateway.vision.errors import ImageDecodeError
from gateway.vision.image_io import read_image

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pnm"}
)
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers by value: img2 < img10."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in _DIGITS.split(name)
        if part
    )


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside `folder`, in natural name order (hidden files skipped)."""
    files = [
        entry
        for entry in folder.iterdir()
        if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES and entry.name[0] != "."
    ]
    return sorted(files, key=lambda path: natural_key(path.name))


class ImageFolderSource:
    """Plays the images of one folder in order, optionally looping and paced at `fps`."""

    def __init__(
        self,
        folder: str | Path,
        *,
        loop: bool = False,
        paced: bool = False,
        fps: float = 10.0,
        clock: Clock = time.monotonic,
        sleep: Sleeper = time.sleep,
    ) -> None:
        self.folder = Path(folder)
        self.loop = loop
        self._pacer = Pacer(fps, clock=clock, sleep=sleep) if paced else None
        self._files: list[Path] = []
        self._next = 0
        self._opened = False

    @property
    def description(self) -> str:
        return f"folder:{self.folder}"

    @property
    def is_live(self) -> bool:
        return False

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceOpenError(f"{self.description}: not a folder", permanent=True)
        try:
            files = list_images(self.folder)
        except OSError as error:
            raise SourceOpenError(
                f"{self.description}: cannot list ({error.strerror or error})", permanent=True
            ) from None
        if not files:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise SourceOpenError(
                f"{self.description}: no images in the folder (looked for {suffixes})",
                permanent=True,
            )
        self._files = files
        self._next = 0
        self._opened = True
        if self._pacer is not None:
            self._pacer.reset()

    def read(self) -> SourceFrame:
        if not self._opened:
            raise SourceReadError(f"{self.description}: not open")
        if self._next >= len(self._files):
            if not self.loop:
                raise EndOfStream(f"{self.description}: no more images")
            self._next = 0
        index = self._next
        self._next += 1
        try:
            image = read_image(self._files[index])
        except ImageDecodeError as error:
            raise FrameDecodeError(str(error)) from None
        if self._pacer is not None:
            self._pacer.wait()
        return SourceFrame(image, float(index))

    def close(self) -> None:
        self._opened = False
