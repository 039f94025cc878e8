"""Writes the PNG fixtures of the EVA tests with the standard library only (zlib, struct):
grey16.png (5x3, 16-bit grey, sample (x*7 + y*13) * 257 + x), rgba8.png (3x2, 8-bit RGBA,
sample channel c of pixel (x, y) = 40*x + 60*y + c, alpha 200), and truncated.png (the first
60 bytes of rgba8.png). Run from this folder: python3 make_pngs.py"""
import struct
import zlib


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, depth, colour, rows):
    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


grey = png(5, 3, 16, 0, [b"".join(struct.pack(">H", (x * 7 + y * 13) * 257 + x) for x in range(5)) for y in range(3)])
rgba = png(3, 2, 8, 6, [bytes(v for x in range(3) for v in (40 * x + 60 * y, 40 * x + 60 * y + 1, 40 * x + 60 * y + 2, 200))
                        for y in range(2)])
open("grey16.png", "wb").write(grey)
open("rgba8.png", "wb").write(rgba)
open("truncated.png", "wb").write(rgba[:60])
