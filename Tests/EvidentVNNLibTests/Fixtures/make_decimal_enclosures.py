#!/usr/bin/env python3
"""Writes decimal_enclosures.json: decimal literals with the binary64 enclosure of their
exact value, computed with Python's exact rationals (fractions.Fraction) and its correctly
rounded float conversion. Independent of Evident's code.

Each record: {"literal": text, "lo": bits, "hi": bits} with bits the IEEE 754 binary64
bit pattern as 16 hex digits, lo == hi exactly when the decimal is a binary64 number,
else lo < v < hi consecutive doubles; or {"literal": text, "reject": true} when the value
exceeds the largest finite double.

Run once: python3 make_decimal_enclosures.py (deterministic: seeded).
"""
import json
import math
import random
import struct
from decimal import Decimal
from fractions import Fraction

LEAST = math.ldexp(1.0, -1074)
MAX = 1.7976931348623157e308


def bits(x):
    return struct.pack(">d", x).hex()


def exact(x):
    """The exact decimal expansion of a float (Decimal(float) is exact)."""
    return format(Decimal(x), "f") if abs(x) >= 1e-5 and abs(x) < 1e16 else format(Decimal(x), "e").replace("e", "e")


def enclosure(literal):
    v = Fraction(Decimal(literal))
    negative = v < 0 or (v == 0 and literal.lstrip().startswith("-"))
    m = abs(v)
    if m == 0:
        return (-0.0, -0.0) if negative else (0.0, 0.0)
    if m > Fraction(MAX):
        return None
    x = float(m)  # correctly rounded (float of a Fraction rounds correctly)
    if x == math.inf:
        x = MAX
    fx = Fraction(x)
    if fx == m:
        lo = hi = x
    elif fx < m:
        lo, hi = x, math.nextafter(x, math.inf)
        assert Fraction(lo) < m < Fraction(hi)
    else:
        lo, hi = math.nextafter(x, -math.inf), x
        assert Fraction(lo) < m < Fraction(hi)
    if negative:
        lo, hi = -hi, -lo
    return lo, hi


hand = [
    "0", "-0", "0.000", "0e999999", "-0.0e-5", "+0",
    "0.1", "-0.1", "0.5", "-0.5", ".5", "5.", "+7", "0.3", "0.2", "0.7", "1", "-1", "2", "10",
    "1e-300", "-1e-300", "1e-320", "1e-323", "1e-324", "3e-324", "1e-400", "-1e-400", "1e-99999",
    "4.9406564584124654e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
    # 2^-1074 and 2^-1075 exactly (the latter is the tie between 0 and 2^-1074)
    exact(LEAST), format(Decimal(LEAST) / 2, "e"),
    # largest subnormal, smallest normal, their exact expansions and neighbours
    "2.2250738585072009e-308", "2.2250738585072011e-308", "2.2250738585072014e-308",
    exact(math.ldexp(1.0, -1022)), exact(math.ldexp(1.0, -1022) - LEAST),
    "9007199254740992", "9007199254740993", "9007199254740995", "9007199254740994",
    "18014398509481985", "1e22", "1e23", "-1e23", "1E5", "1e-3", "-2.5E+2", "1.5e1",
    "12345678901234567890123", "123456789012345678901234567890",
    "8.98846567431158e307", "1.7976931348623157e308", exact(MAX), "-" + exact(MAX),
    "1.7976931348623158e308", "1.7976931348623159e308", "1e308", "1e309", "-1e309", "1e400",
    "0.1000000000000000055511151231257827", exact(0.1), exact(0.1) + "0000000", exact(0.1) + "1",
    "1.00000000000000011102230246251565404236316680908203125",  # 1 + 2^-53 exactly: a tie
    "1.000000000000000111022302462515654042363166809082031251",
    "1.00000000000000011102230246251565404236316680908203124",
    "4.35679207282016e-13", "1.8010209798812866", "1.741058111190796", "0.4032535254955292",
    "0.6", "0.679857769", "-0.45", "3.991125645861615", "-0.30353115613746867", "0.49999999998567607",
    "0.008", "0.0026143790849673205", "2.0e-1", "100.25", "-1024.125", "0.0625",
]

# Long literals: exact expansions of doubles with digits appended past the kept precision.
long_cases = []
for x in [0.1, 1 / 3, math.ldexp(1.0, -1074) * 12345, math.ldexp(1.0, -1022) * 1.5, 1e300 / 7, 2.0 ** 60 + 2 ** 8]:
    e = format(Decimal(x), "e")
    mantissa, exp = e.split("e")
    long_cases.append(mantissa + "e" + exp)
    long_cases.append(mantissa + "0" * 900 + "e" + exp)
    long_cases.append(mantissa + "0" * 900 + "1e" + exp)
    long_cases.append(mantissa + "9" * 50 + "e" + exp)
# The tie 1 + 2^-53 padded far beyond 800 digits, exactly and with a final 1.
tie = "1.00000000000000011102230246251565404236316680908203125"
long_cases += [tie + "0" * 1000, tie + "0" * 1000 + "1", "0." + "0" * 300 + "1" + "0" * 700 + "1"]
# Many leading zeros before the point and digits before the exponent.
long_cases += ["0" * 500 + "1.5", "0." + "0" * 330 + "5", "1" + "0" * 320 + "e-320", "123" + "0" * 820 + "e-830"]

random.seed(20260512)
generated = []
for _ in range(1500):
    digits = random.randint(1, 40)
    mantissa = "".join(random.choice("0123456789") for _ in range(digits))
    if random.random() < 0.6:
        point = random.randint(0, digits)
        mantissa = mantissa[:point] + "." + mantissa[point:]
    sign = random.choice(["", "-", "+"])
    exponent = "" if random.random() < 0.25 else random.choice(["e", "E"]) + str(random.randint(-345, 310))
    generated.append(sign + mantissa + exponent)
for _ in range(500):
    # Exact expansions of random doubles over the whole range (normal and subnormal).
    x = struct.unpack(">d", struct.pack(">Q", random.getrandbits(63)))[0]
    if math.isfinite(x):
        generated.append(format(Decimal(x), "e"))
        generated.append(repr(x))  # shortest round-trip form, usually inexact
for _ in range(300):
    # Short decimals of moderate exponent (the fast path).
    generated.append(str(random.randint(1, 10 ** 15)) + "e" + str(random.randint(-22, 22)))

records = []
seen = set()
for literal in hand + long_cases + generated:
    if literal in seen:
        continue
    seen.add(literal)
    result = enclosure(literal)
    if result is None:
        records.append({"literal": literal, "reject": True})
    else:
        records.append({"literal": literal, "lo": bits(result[0]), "hi": bits(result[1])})

with open(__file__.replace("make_decimal_enclosures.py", "decimal_enclosures.json"), "w") as f:
    json.dump(records, f, indent=0)
    f.write("\n")
print(len(records), "records,", sum(1 for r in records if r.get("lo") == r.get("hi") and "lo" in r), "exact,",
      sum(1 for r in records if r.get("reject")), "rejected")
