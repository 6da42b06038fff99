"""The kernels' block and tile sizes, read from src/cuda/tiles.rs (their one source)."""
import pathlib
import re

_SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "cuda" / "tiles.rs"


def load():
    """{name: value} for every `pub const NAME: usize = <int>;` (and `= OTHER / <int>`) of tiles.rs."""
    values = {}
    for name, expr in re.findall(r"pub const (\w+): usize = ([^;]+);", _SRC.read_text()):
        values[name] = int(eval(expr, {}, dict(values)))  # the expressions are integers and earlier names
    return values


TILES = load()
