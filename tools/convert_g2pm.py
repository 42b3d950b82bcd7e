"""Convert g2pM's published weights (PyPI ``g2pM`` 0.1.2.5, Apache-2.0; Park & Lee, Interspeech 2020) into the
safetensors and JSON that ``phonetics.polyphone`` reads, so Tianci never unpickles anything at run time.

    pip download g2pM==0.1.2.5 --no-deps -d /tmp/g2pm
    python tools/convert_g2pm.py /tmp/g2pm/g2pM-0.1.2.5-py3-none-any.whl [OUT_DIR]   # default phonetics/data/g2pm

The wheel's pickles are read once, here, by an unpickler that admits only numpy arrays, dtypes, dicts and
lists (anything else, such as a function or a class to call, is refused), from the published wheel.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parent.parent / "phonetics" / "data" / "g2pm"
ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
           ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
           ("collections", "OrderedDict")}


class ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only numpy arrays and containers")


def main(wheel: str, out: Path = OUT) -> None:
    with zipfile.ZipFile(wheel) as archive:
        def load(name: str):
            return ArraysOnly(io.BytesIO(archive.read(f"g2pM/{name}.pkl"))).load()

        names = ("np_ckpt", "char2idx", "class2idx", "digest_cedict")
        weights, char2idx, class2idx, cedict = (load(name) for name in names)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
    save_file(arrays, str(out / "weights.safetensors"))
    chars = sorted(char2idx, key=char2idx.get)
    classes = sorted(class2idx, key=class2idx.get)
    assert [char2idx[c] for c in chars] == list(range(len(chars))) and [class2idx[c] for c in classes] == \
        list(range(len(classes)))
    polyphones = {c: prons for c, prons in cedict.items() if len(prons) > 1}
    (out / "vocab.json").write_text(json.dumps({"chars": chars, "classes": classes, "polyphones": polyphones},
                                               ensure_ascii=False), encoding="utf-8")
    print(f"{out}: {len(weights)} tensors, {len(chars)} characters, {len(classes)} readings, "
          f"{len(polyphones)} polyphones")


if __name__ == "__main__":
    main(sys.argv[1], *(Path(a) for a in sys.argv[2:3]))
