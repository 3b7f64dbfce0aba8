"""A small QR code encoder (byte mode, error correction M, versions 1-4) for the visitor-code
print view, so the offline box needs no extra package. Output: a module matrix and an SVG.

Follows ISO/IEC 18004: Reed-Solomon over GF(256) with 0x11D, function patterns, zigzag
placement, the eight masks (lowest penalty wins) and BCH-protected format bits.
"""

from __future__ import annotations

from collections.abc import Callable

# version: (data codewords per block, blocks, EC codewords per block, alignment centre or 0)
VERSIONS = {1: (16, 1, 10, 0), 2: (28, 1, 16, 18), 3: (44, 1, 26, 22), 4: (32, 2, 18, 26)}
EXP = [0] * 512
LOG = [0] * 256
_value = 1
for _power in range(255):
    EXP[_power] = _value
    LOG[_value] = _power
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D
for _power in range(255, 512):
    EXP[_power] = EXP[_power - 255]

Matrix = list[list[bool]]


def _multiply(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def rs_remainder(data: list[int], degree: int) -> list[int]:
    generator = [1]
    for i in range(degree):
        generator = [
            (generator[j] if j < len(generator) else 0)
            ^ (_multiply(generator[j - 1], EXP[i]) if j > 0 else 0)
            for j in range(len(generator) + 1)
        ]
    remainder = [0] * degree
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = [*remainder[1:], 0]
        for i in range(degree):
            remainder[i] ^= _multiply(generator[i + 1], factor)
    return remainder


def _codewords(payload: bytes) -> tuple[int, list[int]]:
    fitting = [
        v for v, (block, count, _e, _a) in VERSIONS.items() if len(payload) + 2 <= block * count
    ]
    if not fitting:
        raise ValueError(f"{len(payload)} bytes do not fit a version-4 QR code")
    version = fitting[0]
    per_block, blocks, ec, _align = VERSIONS[version]
    bits = "0100" + f"{len(payload):08b}" + "".join(f"{b:08b}" for b in payload)
    capacity = per_block * blocks * 8
    bits += "0" * min(4, capacity - len(bits))
    bits += "0" * (-len(bits) % 8)
    data = [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]
    pad = 0
    while len(data) < per_block * blocks:
        data.append((0xEC, 0x11)[pad % 2])
        pad += 1
    chunks = [data[i * per_block : (i + 1) * per_block] for i in range(blocks)]
    corrections = [rs_remainder(chunk, ec) for chunk in chunks]
    interleaved = [chunk[i] for i in range(per_block) for chunk in chunks]
    interleaved += [block[i] for i in range(ec) for block in corrections]
    return version, interleaved


class _Grid:
    def __init__(self, version: int) -> None:
        self.size = 17 + 4 * version
        self.dark: Matrix = [[False] * self.size for _ in range(self.size)]
        self.function: Matrix = [[False] * self.size for _ in range(self.size)]

    def set(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.function[y][x] = True

    def finder(self, cx: int, cy: int) -> None:
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                x, y = cx + dx, cy + dy
                if 0 <= x < self.size and 0 <= y < self.size:
                    distance = max(abs(dx), abs(dy))
                    self.set(x, y, distance not in (2, 4))

    def alignment(self, cx: int, cy: int) -> None:
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                self.set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)

    def format_bits(self, mask: int) -> None:
        data = mask  # error correction level M has format bits 00
        remainder = data
        for _ in range(10):
            remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
        bits = ((data << 10) | remainder) ^ 0x5412

        def bit(i: int) -> bool:
            return bool((bits >> i) & 1)

        for i in range(6):
            self.set(8, i, bit(i))
        self.set(8, 7, bit(6))
        self.set(8, 8, bit(7))
        self.set(7, 8, bit(8))
        for i in range(9, 15):
            self.set(14 - i, 8, bit(i))
        for i in range(8):
            self.set(self.size - 1 - i, 8, bit(i))
        for i in range(8, 15):
            self.set(8, self.size - 15 + i, bit(i))
        self.set(8, self.size - 8, True)


MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)


def _base(version: int, codewords: list[int]) -> _Grid:
    grid = _Grid(version)
    size = grid.size
    for i in range(size):
        grid.set(6, i, i % 2 == 0)
        grid.set(i, 6, i % 2 == 0)
    grid.finder(3, 3)
    grid.finder(size - 4, 3)
    grid.finder(3, size - 4)
    centre = VERSIONS[version][3]
    if centre:
        grid.alignment(centre, centre)
    grid.format_bits(0)  # reserve the format areas; rewritten per mask
    index = 0
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        for vertical in range(size):
            for j in range(2):
                x = right - j
                upward = ((right + 1) & 2) == 0
                y = size - 1 - vertical if upward else vertical
                if not grid.function[y][x] and index < len(codewords) * 8:
                    grid.dark[y][x] = bool((codewords[index >> 3] >> (7 - (index & 7))) & 1)
                    index += 1
        right -= 2
    return grid


def _penalty(dark: Matrix) -> int:
    size = len(dark)
    score = 0
    for lines in (dark, [list(column) for column in zip(*dark, strict=True)]):
        for line in lines:
            run = 1
            for i in range(1, size + 1):
                if i < size and line[i] == line[i - 1]:
                    run += 1
                    continue
                if run >= 5:
                    score += run - 2
                run = 1
    for y in range(size - 1):
        for x in range(size - 1):
            if dark[y][x] == dark[y][x + 1] == dark[y + 1][x] == dark[y + 1][x + 1]:
                score += 3
    total = sum(map(sum, dark))
    score += abs(total * 20 - size * size * 10) // (size * size) * 10
    return score


def qr_matrix(text: str) -> Matrix:
    """The module matrix (True = dark) of `text` encoded as UTF-8."""
    version, codewords = _codewords(text.encode("utf-8"))
    best: Matrix | None = None
    best_score = 0
    for mask, rule in enumerate(MASKS):
        grid = _base(version, codewords)
        for y in range(grid.size):
            for x in range(grid.size):
                if not grid.function[y][x] and rule(x, y):
                    grid.dark[y][x] = not grid.dark[y][x]
        grid.format_bits(mask)
        score = _penalty(grid.dark)
        if best is None or score < best_score:
            best, best_score = grid.dark, score
    assert best is not None
    return best


def qr_svg(text: str, module_px: int = 6) -> str:
    """An SVG with a 4-module quiet zone; safe to inline (no text from `text` is embedded)."""
    matrix = qr_matrix(text)
    size = len(matrix) + 8
    path = "".join(
        f"M{x + 4},{y + 4}h1v1h-1z"
        for y, row in enumerate(matrix)
        for x, dark in enumerate(row)
        if dark
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size * module_px}" height="{size * module_px}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>'
    )
