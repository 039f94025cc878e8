
/// Doubles of many magnitudes for edge-case testing: subnormals, huge, tiny, ±0, ±1.
struct NumberSource {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func double(maxExponent: Int = 1023) -> Double {
        let r = next()
        let sign: Double = r & 1 == 0 ? 1 : -1
        switch (r >> 1) % 16 {
        case 0: return 0 * sign
        case 1: return sign * Double(bitPattern: next() % (1 << 52))  // subnormal
        case 2: return sign * Double.leastNonzeroMagnitude * Double(next() % 8 + 1)
        case 3: return sign * 1
        case 4: return sign * Double.greatestFiniteMagnitude / Double(next() % 4 + 1)
        case 5, 6, 7: return sign * Double(bitPattern: (next() % (1 << 52)) | (UInt64(1023 + Int(next() % 11) - 5) << 52))
        default:
            let exponent = Int(next() % UInt64(1023 + maxExponent)) + 1
            return sign * Double(bitPattern: (next() % (1 << 52)) | (UInt64(exponent) << 52))
        }
    }
}
