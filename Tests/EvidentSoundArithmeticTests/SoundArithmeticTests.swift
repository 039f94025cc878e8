import EvidentTestSupport
import BigInt
import EvidentSoundArithmetic
import Testing

@Suite("Directed rounding and a-priori error bounds, against exact dyadic arithmetic")
struct SoundArithmeticTests {
    @Test func roundedSumEnclosesExactSum() {
        var source = NumberSource(seed: 1)
        for _ in 0..<20000 {
            let a = source.double(), b = source.double()
            let exact = Dyadic(a) + Dyadic(b)
            let down = roundedSum(a, b, upward: false), up = roundedSum(a, b, upward: true)
            #expect(!down.isNaN && !up.isNaN)
            if down.isFinite { #expect(Dyadic(down) <= exact, "\(a) + \(b) down \(down)") } else { #expect(down == -.infinity) }
            if up.isFinite { #expect(exact <= Dyadic(up), "\(a) + \(b) up \(up)") } else { #expect(up == .infinity) }
        }
    }

    @Test func roundedProductEnclosesExactProduct() {
        var source = NumberSource(seed: 2)
        for _ in 0..<20000 {
            let a = source.double(), b = source.double()
            let exact = Dyadic(a) * Dyadic(b)
            let down = roundedProduct(a, b, upward: false), up = roundedProduct(a, b, upward: true)
            if down.isFinite { #expect(Dyadic(down) <= exact, "\(a) * \(b) down \(down)") } else { #expect(down == -.infinity) }
            if up.isFinite { #expect(exact <= Dyadic(up), "\(a) * \(b) up \(up)") } else { #expect(up == .infinity) }
        }
    }

    @Test func roundedQuotientEnclosesExactQuotient() {
        var source = NumberSource(seed: 3)
        for _ in 0..<20000 {
            let n = source.double(), d = source.double()
            guard d != 0 else { continue }
            let down = roundedQuotient(n, d, upward: false), up = roundedQuotient(n, d, upward: true)
            // q ≤ n/d  ⟺  q·d ≤ n for d > 0 (reversed for d < 0).
            let (nd, dd) = (Dyadic(n), Dyadic(d))
            if down.isFinite {
                let p = Dyadic(down) * dd
                #expect(d > 0 ? p <= nd : nd <= p, "\(n) / \(d) down \(down)")
            } else { #expect(down == -.infinity) }
            if up.isFinite {
                let p = Dyadic(up) * dd
                #expect(d > 0 ? nd <= p : p <= nd, "\(n) / \(d) up \(up)")
            } else { #expect(up == .infinity) }
        }
    }

    @Test func intervalOperationsContainExactResults() {
        var source = NumberSource(seed: 4)
        for _ in 0..<5000 {
            var xs = (0..<4).map { _ in source.double(maxExponent: 500) }
            if xs[0] > xs[1] { xs.swapAt(0, 1) }
            if xs[2] > xs[3] { xs.swapAt(2, 3) }
            let a = Interval(lo: xs[0], hi: xs[1]), b = Interval(lo: xs[2], hi: xs[3])
            for (x, y) in [(xs[0], xs[2]), (xs[1], xs[3]), (xs[0], xs[3])] {
                let s = a + b, p = a * b
                let es = Dyadic(x) + Dyadic(y), ep = Dyadic(x) * Dyadic(y)
                #expect(!s.lo.isNaN && !s.hi.isNaN && !p.lo.isNaN && !p.hi.isNaN)
                if s.lo.isFinite { #expect(Dyadic(s.lo) <= es) }
                if s.hi.isFinite { #expect(es <= Dyadic(s.hi)) }
                if p.lo.isFinite { #expect(Dyadic(p.lo) <= ep) }
                if p.hi.isFinite { #expect(ep <= Dyadic(p.hi)) }
            }
        }
    }

    @Test func gammaBoundsTheExactExpression() {
        for n in [1, 2, 3, 10, 1000, 123_457, 1 << 30, 1 << 40] {
            // ĝ ≥ nu/(1 − 2nu)  ⟺  ĝ·(2^53 − 2n) ≥ n.
            let g = Dyadic(RoundingError.gamma(n))
            let lhs = g * Dyadic(m: (BigInt(1) << 53) - BigInt(2 * n), e: 0)
            #expect(Dyadic(m: BigInt(n), e: 0) <= lhs, "gamma(\(n))")
        }
        #expect(RoundingError.gamma((1 << 40) + 1) == .infinity)
    }

    /// Dot products in several orders (forward, backward, pairwise, with FMA) never err by
    /// more than the bound computed from the float absolute sum.
    @Test func dotProductErrorBoundHoldsInEveryOrder() {
        var source = NumberSource(seed: 5)
        for trial in 0..<3000 {
            let n = 1 + Int(source.next() % 40)
            let maxExponent = trial % 3 == 0 ? 0 : 400
            let x = (0..<n).map { _ in source.double(maxExponent: maxExponent) }
            let y = (0..<n).map { _ in source.double(maxExponent: maxExponent) }
            var exact = Dyadic.zero
            for i in 0..<n { exact = exact + Dyadic(x[i]) * Dyadic(y[i]) }
            var absolute = 0.0
            for i in 0..<n { absolute += abs(x[i]) * abs(y[i]) }
            let bound = RoundingError.dotProductError(terms: n, absoluteSum: absolute)
            guard bound.isFinite else { continue }
            var forward = 0.0, backward = 0.0, fused = 0.0
            for i in 0..<n { forward += x[i] * y[i] }
            for i in stride(from: n - 1, through: 0, by: -1) { backward += x[i] * y[i] }
            for i in 0..<n { fused = fused.addingProduct(x[i], y[i]) }
            func pairwise(_ r: Range<Int>) -> Double {
                r.count == 1 ? x[r.lowerBound] * y[r.lowerBound]
                    : pairwise(r.lowerBound..<(r.lowerBound + r.count / 2)) + pairwise((r.lowerBound + r.count / 2)..<r.upperBound)
            }
            for computed in [forward, backward, fused, pairwise(0..<n)] where computed.isFinite {
                #expect((Dyadic(computed) - exact).magnitude <= Dyadic(bound), "n=\(n) computed \(computed) bound \(bound)")
            }
        }
    }

    @Test func sumUpperBoundBoundsNonNegativeSums() {
        var source = NumberSource(seed: 6)
        for _ in 0..<3000 {
            let n = 1 + Int(source.next() % 60)
            let x = (0..<n).map { _ in abs(source.double(maxExponent: 300)) }
            let y = (0..<n).map { _ in abs(source.double(maxExponent: 300)) }
            var exact = Dyadic.zero, computed = 0.0
            for i in 0..<n {
                exact = exact + Dyadic(x[i]) * Dyadic(y[i])
                computed += x[i] * y[i]
            }
            let bound = RoundingError.sumUpperBound(computed, terms: n)
            if bound.isFinite { #expect(exact <= Dyadic(bound)) }
        }
    }

    @Test func linearFormBoundsEncloseTheRange() {
        var source = NumberSource(seed: 7)
        for _ in 0..<2000 {
            let n = 1 + Int(source.next() % 20)
            let a = (0..<n).map { _ in source.double(maxExponent: 200) }
            var l = (0..<n).map { _ in source.double(maxExponent: 200) }, u = (0..<n).map { _ in source.double(maxExponent: 200) }
            for i in 0..<n where l[i] > u[i] { swap(&l[i], &u[i]) }
            var exactMin = Dyadic.zero, exactMax = Dyadic.zero
            for i in 0..<n {
                let (p, q) = (Dyadic(a[i]) * Dyadic(l[i]), Dyadic(a[i]) * Dyadic(u[i]))
                exactMin = exactMin + min(p, q)
                exactMax = exactMax + max(p, q)
            }
            let lower = LinearFormBounds.lower(coefficients: a, lower: l, upper: u)
            let upper = LinearFormBounds.upper(coefficients: a, lower: l, upper: u)
            if lower.isFinite { #expect(Dyadic(lower) <= exactMin) }
            if upper.isFinite { #expect(exactMax <= Dyadic(upper)) }
        }
    }

    @Test func edgeCases() {
        #expect(roundedSum(.greatestFiniteMagnitude, .greatestFiniteMagnitude, upward: false) == .greatestFiniteMagnitude)
        #expect(roundedSum(.greatestFiniteMagnitude, .greatestFiniteMagnitude, upward: true) == .infinity)
        #expect(roundedProduct(1e300, 1e300, upward: false) == .greatestFiniteMagnitude)
        #expect(roundedProduct(-1e300, 1e300, upward: true) == -.greatestFiniteMagnitude)
        // 2⁻⁶⁰⁰ · 2⁻⁶⁰⁰ underflows to 0: the bounds must still enclose the positive product.
        let tiny = 0x1p-600
        #expect(roundedProduct(tiny, tiny, upward: true) > 0)
        #expect(roundedProduct(tiny, tiny, upward: false) <= 0)
        #expect(roundedSum(0.1, 0.2, upward: true) >= roundedSum(0.1, 0.2, upward: false))
        #expect(roundedSum(-0.0, 0.0, upward: false) == 0)
        #expect(roundedProduct(.nan, 1, upward: true).isNaN)
        #expect(RoundingError.dotProductError(terms: 3, absoluteSum: .nan) == .infinity)
        #expect(RoundingError.sumUpperBound(-1, terms: 3) == .infinity)
    }
}
