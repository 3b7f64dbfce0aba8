"""`menwei demo`: the gateway's main job on built-in defaults, end to end, on this machine.

It installs the demo's model pack (`mobilefacenet` unless --pack or --config says otherwise; see
DEMO_PACK_WHY), from MENWEI_MODELS_MIRROR when set, else the bundled files and npm, creates a
fresh SQLite store under var/demo with a generated template key, enrols the people of an
enrolment folder (one sub-folder of photos per person; consent recorded as "demo", a card issued
to each so face is never their only credential), then runs the real AccessService: the video as
the camera, the simulated door, every decision printed as it happens. It ends when the video ends
or on Ctrl-C, with a summary. The defaults use the shared sample data: face_recognition's stage
clip and the enrolment photos that go with it.
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gateway.access.policy import AccessDecision
from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.eval.context import default_faces_dir
from gateway.modelhub import load_manifest
from gateway.modelhub.fetch import fetch_pack, mirror_folder
from gateway.runtime.adapters import StaffPageStarter, no_staff_page
from gateway.store.crypto import generate_key_file

if TYPE_CHECKING:
    from gateway.application.enrol_photos import PhotoResult
    from gateway.vision.analyser import FaceAnalyser

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
DEMO_DIR = Path("var/demo")
DEMO_PACK = "mobilefacenet"
DEMO_PACK_LICENCE = "declared-mit-unverified"
DEMO_PACK_WHY = (
    "the demo runs pack 'mobilefacenet' and accepts its licence 'declared-mit-unverified' for "
    "this demo only: no threshold keeps the licence-certain default pack's strangers out with a "
    "margin, so it grants nobody by face (cards, PINs and codes still work); "
    "mobilefacenet keeps strangers out at 0.664 and lets most residents in. Its npm package "
    "declares MIT but names no author or training data, so a site must accept it explicitly "
    "(README, 'Recognition')"
)


def register(subparsers: Any, staff_page: StaffPageStarter = no_staff_page) -> None:
    parser = subparsers.add_parser("demo", help="run the gateway on a sample video, sim door")
    faces = default_faces_dir()
    parser.add_argument("--config", type=Path, help="TOML config (default: built-in defaults)")
    parser.add_argument(
        "--pack",
        default=None,
        help=f"model pack (default: {DEMO_PACK} without --config, else the config's)",
    )
    parser.add_argument(
        "--enrol",
        type=Path,
        default=faces / "face_recognition_examples/images",
        help="folder with one sub-folder of photos per person",
    )
    parser.add_argument(
        "--video",
        default=str(faces / "videos/short_hamilton_clip.mp4"),
        help="video file, image folder, rtsp URL or camera index",
    )
    parser.add_argument(
        "--seconds", type=float, default=0.0, help="stop after this long (0: run until Ctrl-C)"
    )
    parser.add_argument(
        "--once", action="store_true", help="play the video once and stop (default: loop)"
    )
    parser.add_argument(
        "--until-grant",
        action="store_true",
        help="stop after the first face grant (bound it with --seconds)",
    )
    parser.set_defaults(func=lambda args: run_demo(args, staff_page))


def ensure_models(config: GatewayConfig) -> None:
    """Install the configured pack into models.dir unless every file is already verified."""
    pack = load_manifest(config.models.manifest).pack(config.models.pack)
    mirror = mirror_folder(None, config.models.mirror)
    config.models.dir.mkdir(parents=True, exist_ok=True)
    for result in fetch_pack(pack, config.models.dir, mirror):
        print(f"model {result.model_id}: {result.action} ({result.origin})")
        if result.action == "failed":
            raise SystemExit(f"cannot install model {result.model_id}: {result.origin}")


def demo_config(args: argparse.Namespace) -> GatewayConfig:
    config = load_config(args.config)
    if args.config is None:
        if DEMO_DIR.exists():
            shutil.rmtree(DEMO_DIR)
        DEMO_DIR.mkdir(parents=True)
        key = DEMO_DIR / "template.key"
        generate_key_file(key)  # owner-only from the first byte, as `menwei keys` makes it
        config.store.url = f"sqlite:///{DEMO_DIR / 'menwei.db'}"
        config.store.key_file = key
        config.store.backup_dir = DEMO_DIR / "backups"
    pack = args.pack or (DEMO_PACK if args.config is None else config.models.pack)
    if pack == DEMO_PACK and DEMO_PACK_LICENCE not in config.models.accept_licence:
        print(DEMO_PACK_WHY)
        config.models.accept_licence = [*config.models.accept_licence, DEMO_PACK_LICENCE]
    config.models.pack = pack
    video = str(args.video)
    config.camera.source = video
    config.camera.kind = "folder" if Path(video).is_dir() else "auto"
    config.camera.paced = True
    config.camera.loop = not args.once
    config.provisioning.bind = "127.0.0.1"
    if args.config is None:
        config.provisioning.tls_cert = DEMO_DIR / "tls" / "cert.pem"
        config.provisioning.tls_key = DEMO_DIR / "tls" / "key.pem"
        config.provisioning.photo_dir = DEMO_DIR / "photos"
    return config


def enrol_folder(config: GatewayConfig, folder: Path) -> int:
    """Enrol every person folder: person, unit and card first, then the enrolment command's save
    (consent, one template per usable photo, audit row) as staff enrolment does. The demo's own
    photo check is lenient (largest face, no liveness: the sample photos are photographs)."""
    from gateway.application.actor import Actor
    from gateway.application.enrolment import Enrolment, EnrolSettings
    from gateway.runtime.bootstrap import ensure_door
    from gateway.store.base import Role
    from gateway.store.credentials import add_card
    from gateway.store.people import add_person
    from gateway.store.places import add_unit
    from gateway.store.schema_people import Door
    from gateway.store.store import open_store
    from gateway.vision.factory import effective_thresholds, load_pipeline
    from gateway.vision.recogniser import rule_from_config

    pipeline, models = load_pipeline(config)
    resident, _watch = effective_thresholds(models, config.vision)
    rule = rule_from_config(config.vision, resident, models.small_gallery_threshold)
    store = open_store(config.store)
    settings = EnrolSettings(consent_text_version="demo-v1", max_photos=1000)
    command = Enrolment(store, pipeline, rule, settings, now=lambda: datetime.now(UTC))
    actor = Actor("menwei demo")
    enrolled = 0
    now = datetime.now(UTC)
    try:
        with store.sessions.writing() as session:
            door = session.get(Door, ensure_door(session, config.site))
            assert door is not None
            building_id = door.building_id
        people = sorted(p for p in folder.iterdir() if p.is_dir())
        for number, person_dir in enumerate(people, start=1):
            with store.sessions.writing() as session:
                unit = add_unit(session, building_id, "1", f"{100 + number}")
                person = add_person(
                    session,
                    external_id=person_dir.name,
                    display_name=person_dir.name,
                    role=Role.OWNER,
                    unit_id=unit.id,
                    valid_from=now - timedelta(days=1),
                )
                add_card(session, person.id, 100, 1000 + number)
                person_id = person.id
            photos = _demo_photos(pipeline, person_dir)
            templates = command.save(actor, person_id, photos, now).templates if photos else 0
            print(
                f"enrolled {person_dir.name} (person {person_id}, card 100/"
                f"{1000 + number}, {templates} face templates)"
            )
            enrolled += 1
    finally:
        store.close()
    return enrolled


def _demo_photos(pipeline: FaceAnalyser, person_dir: Path) -> list[PhotoResult]:
    """The person's photos as enrolment results: the largest face of each, no liveness check."""
    from gateway.application.enrol_photos import PhotoResult
    from gateway.vision.errors import ImageDecodeError
    from gateway.vision.image_io import read_image

    results = []
    for photo in sorted(person_dir.iterdir()):
        if photo.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            faces = pipeline.analyse(read_image(photo), max_faces=1, check_liveness=False)
        except ImageDecodeError as error:
            print(f"  skip {photo.name}: {error}")
            continue
        if not faces or faces[0].embedding is None:
            reasons = faces[0].quality.reasons if faces and faces[0].quality else []
            print(
                f"  skip {person_dir.name}/{photo.name}: {[str(r) for r in reasons] or 'no face'}"
            )
            continue
        embedding = np.asarray(faces[0].embedding, np.float32)
        results.append(PhotoResult(photo.name, 1, True, [], {}, embedding=embedding))
    return results


# Sample photos that ship inside installed packages, as (package, path inside it, what it is):
# scikit-image is a runtime dependency, so its public-domain NASA portrait is always there;
# insightface (installed by the Makefile for its alignment utilities) adds a group photo.
SAMPLE_PHOTOS = (
    ("skimage", "data/astronaut.png", "astronaut Eileen Collins (NASA, public domain)"),
    ("insightface", "data/images/t1.jpg", "insightface's group photo"),
)
SAMPLE_FRAMES = 60  # frames per photo in the generated clip (the photo drifts 2 px a frame)


def sample_photos() -> list[tuple[str, Path]]:
    """(description, path) of the bundled sample photos of the packages installed here."""
    import importlib.util

    found = []
    for package, relative, description in SAMPLE_PHOTOS:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        path = Path(spec.origin).parent / relative
        if path.is_file():
            found.append((description, path))
    return found


def packaged_sample(config: GatewayConfig, workdir: Path) -> tuple[Path, Path]:
    """Without ../shared: people and a generated clip from the installed packages' sample photos.

    Each usable face of each photo becomes a person (a crop around it for enrolment); the clip is
    each photo drifting a few pixels per frame, so every face forms a track at the door.
    """
    import cv2

    from gateway.vision.factory import load_pipeline
    from gateway.vision.image_io import read_image

    pipeline, _ = load_pipeline(config)
    enrol_dir, clip_dir = workdir / "enrol", workdir / "clip"
    clip_dir.mkdir(parents=True, exist_ok=True)
    people = 0
    for photo_number, (description, path) in enumerate(sample_photos()):
        photo = read_image(path)
        height, width = photo.shape[:2]
        print(f"sample photo: {path} ({description})")
        for face in (a for a in pipeline.analyse(photo) if a.usable):
            x, y, w, h = (int(v) for v in face.detection.box)
            left, top = max(0, x - w), max(0, y - h)
            crop = photo[top : min(height, y + 2 * h), left : min(width, x + 2 * w)]
            people += 1
            person = enrol_dir / f"guest-{people}"
            person.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(person / "photo.jpg"), crop)
        for index in range(SAMPLE_FRAMES):
            shift = np.array([[1, 0, (index % 30) * 2 - 30], [0, 1, 0]], np.float32)
            frame = cv2.warpAffine(photo, shift, (width, height), borderMode=cv2.BORDER_REPLICATE)
            cv2.imwrite(str(clip_dir / f"{photo_number:02d}-{index:03d}.jpg"), frame)
    if not people:
        raise SystemExit("no usable face in the installed sample photos: pass --enrol and --video")
    return enrol_dir, clip_dir


def _print_decision(decision: AccessDecision) -> None:
    verdict = "GRANT" if decision.granted else "deny "
    score = f" score {decision.score:.3f}" if decision.score is not None else ""
    print(
        f"{datetime.now():%H:%M:%S} {verdict} {decision.method:<5} person="
        f"{decision.person_id} reason={decision.reason}{score}"
    )


def run_demo(args: argparse.Namespace, staff_page: StaffPageStarter = no_staff_page) -> int:
    try:
        config = demo_config(args)
    except ConfigError as error:
        print(error)
        return 2
    ensure_models(config)
    enrol_dir = args.enrol
    if not enrol_dir.is_dir():
        print(f"{enrol_dir} not found (no ../shared): using the installed sample photos")
        enrol_dir, clip = packaged_sample(config, DEMO_DIR / "sample")
        config.camera.source, config.camera.kind = str(clip), "folder"
    enrol_folder(config, enrol_dir)
    from gateway.runtime.service import AccessService

    face_granted = threading.Event()

    def on_decision(decision: AccessDecision) -> None:
        _print_decision(decision)
        if decision.granted and decision.method == "face":
            face_granted.set()

    service = AccessService(config, on_decision=on_decision)
    started = time.monotonic()
    with service:
        page = staff_page(service.application, config.provisioning, args.config)
        if page is not None:
            print(
                f"staff page: https://127.0.0.1:{page.port}/ (self-signed certificate; the "
                "one-time setup token is in the log above)"
            )
        print("running: Ctrl-C to stop" if not args.once else "playing the video once")
        camera = service.camera
        assert camera is not None
        try:
            while not args.seconds or time.monotonic() - started < args.seconds:
                if args.until_grant and face_granted.is_set():
                    time.sleep(0.5)  # let the grant's alerts and events print
                    break
                if str(camera.status().capture.state) in ("ended", "failed"):
                    time.sleep(1.0)  # let the last frames be decided
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            print("\ninterrupted")
        finally:
            if page is not None:
                page.stop()
            _summary(service)
    return 0


def _summary(service: Any) -> None:
    loop = service.vision_loop
    stats = loop.stats
    capture = service.camera.status().capture
    print(
        f"ready after {service.ready_after_s:.2f} s; frames analysed {stats.frames} "
        f"(dropped while busy: {capture.frames_dropped}), faces {stats.faces}"
    )
    p50, p95 = stats.percentile(stats.latency_ms, 50), stats.percentile(stats.latency_ms, 95)
    if p50 is not None and p95 is not None:
        print(f"frame latency p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    g50 = stats.percentile(stats.grant_latency_ms, 50)
    if g50 is not None:
        print(f"grant latency from first good frame: p50 {g50:.0f} ms")
    f50, f95 = (stats.percentile(stats.face_to_grant_ms, q) for q in (50, 95))
    if f50 is not None and f95 is not None:
        # the figure `menwei bench-access --clips` reports as "face -> commit"
        print(f"first face in the frame -> grant committed: p50 {f50:.0f} ms, p95 {f95:.0f} ms")
    print(f"decisions: {service.policy.counters}; alerts not stored: {service.alerts.failures}")
