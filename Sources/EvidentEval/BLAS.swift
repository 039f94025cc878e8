import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// The one place Evident calls OpenBLAS.
///
/// Every call checks its dimensions and leading strides before reaching C, so a
/// wrong shape is a precondition failure with a message rather than memory
/// corruption. Matrices are row-major.
public enum BLAS {
    /// Whether a matrix operand is used as stored or transposed.
    public enum Transpose: Sendable {
        case none, transposed
        var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    /// `C ← alpha · op(A) · op(B) + beta · C` in the precision of `S` (`cblas_dgemm` for
    /// Float64, `cblas_sgemm` for Float32), row-major.
    ///
    /// `op(A)` is `m × k`, `op(B)` is `k × n`, `C` is `m × n`. Leading dimensions
    /// default to tightly packed rows. Rounding: OpenBLAS evaluates in the current
    /// rounding mode with a summation order of its choosing; the result is the
    /// floating-point product, not an enclosure. (Inlinable so that callers in other
    /// modules get code specialised for their element type.)
    @inlinable
    public static func gemm<S: BLASScalar>(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: S = 1, a: UnsafePointer<S>, lda: Int? = nil,
        b: UnsafePointer<S>, ldb: Int? = nil,
        beta: S = 0, c: UnsafeMutablePointer<S>, ldc: Int? = nil
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension m=\(m) n=\(n) k=\(k)")
        let lda = lda ?? (transA == .none ? k : m)
        let ldb = ldb ?? (transB == .none ? n : k)
        let ldc = ldc ?? n
        precondition(lda >= max(1, transA == .none ? k : m), "gemm: lda \(lda) too small")
        precondition(ldb >= max(1, transB == .none ? n : k), "gemm: ldb \(ldb) too small")
        precondition(ldc >= max(1, n), "gemm: ldc \(ldc) too small")
        if m == 0 || n == 0 { return }
        WorkCounters.addFlops(2 * m * n * k)
        if k == 0 {
            // C ← beta · C without touching A or B.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if m == 1 || n == 1 {
            // Matrix-vector shapes are computed here rather than through OpenBLAS 0.3.21's
            // GEMM-to-GEMV forwarding: a precaution while a heap corruption seen with an
            // experimental change (an upper-rows-first intermediate-bound pass, not shipped)
            // stays unexplained; these shapes are cheap either way.
            for i in 0..<m {
                for j in 0..<n {
                    var sum: S = 0
                    for p in 0..<k {
                        let x = transA == .none ? a[i * lda + p] : a[p * lda + i]
                        let y = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
                        sum += x * y
                    }
                    let index = i * ldc + j
                    c[index] = alpha * sum + (beta == 0 ? 0 : beta * c[index])
                }
            }
            return
        }
        S.cblasGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// Array form of ``gemm(_:_:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` with packed operands:
    /// returns `op(A) · op(B)` (`m × n`), accumulating into `accumulate` when given.
    public static func multiply(
        _ a: [Double], _ transA: Transpose = .none, _ b: [Double], _ transB: Transpose = .none,
        m: Int, n: Int, k: Int, accumulate: [Double]? = nil
    ) -> [Double] {
        precondition(a.count == m * k && b.count == k * n, "multiply: operand sizes \(a.count), \(b.count) do not fit \(m)x\(k)x\(n)")
        var c = accumulate ?? [Double](repeating: 0, count: m * n)
        precondition(c.count == m * n, "multiply: accumulator has \(c.count) elements, expected \(m * n)")
        if m == 0 || n == 0 || k == 0 { return c }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    gemm(transA, transB, m: m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!,
                         beta: accumulate == nil ? 0 : 1, c: pc.baseAddress!)
                }
            }
        }
        return c
    }

    /// Number of threads OpenBLAS uses (process-wide).
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set {
            openblas_set_num_threads(Int32(max(1, newValue)))
            // A pool thread that never got work spins for about 0.1 s of CPU after the
            // library starts, taking one of two cores from the engine's own workers.
            if newValue <= 1, let shutdown = threadPoolShutdown { _ = shutdown() }
        }
    }

    /// OpenBLAS's `blas_thread_shutdown_` (exported by its threaded builds, declared in no
    /// header): stops the idle thread pool, which the next call asking for more than one
    /// thread starts again. Looked up at run time, since a serial OpenBLAS lacks it.
    private static let threadPoolShutdown: (@convention(c) () -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)
        #else
        return nil
        #endif
    }()
}

/// The element types OpenBLAS multiplies: Float64 (`dgemm`) and Float32 (`sgemm`).
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
    /// The `cblas_?gemm` of this type, row-major; dimensions are checked by ``BLAS/gemm``.
    static func cblasGemm(_ transA: BLAS.Transpose, _ transB: BLAS.Transpose, _ m: Int, _ n: Int, _ k: Int,
                          _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int, _ b: UnsafePointer<Self>, _ ldb: Int,
                          _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
}

extension Double: BLASScalar {
    public static func cblasGemm(_ transA: BLAS.Transpose, _ transB: BLAS.Transpose, _ m: Int, _ n: Int, _ k: Int,
                                 _ alpha: Double, _ a: UnsafePointer<Double>, _ lda: Int, _ b: UnsafePointer<Double>, _ ldb: Int,
                                 _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Float: BLASScalar {
    public static func cblasGemm(_ transA: BLAS.Transpose, _ transB: BLAS.Transpose, _ m: Int, _ n: Int, _ k: Int,
                                 _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                 _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
