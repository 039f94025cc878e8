import COpenBLAS

/// The checker's one call into OpenBLAS: `C ← op(A) · op(B)` (row-major, `beta = 0`, so
/// every entry of `C` is one dot product of `k` terms evaluated in an order OpenBLAS
/// chooses). The checker never relies on that order: every use charges the a-priori bound
/// `γ_k · (|op(A)| |op(B)|)` (EvidentSoundArithmetic's `RoundingError`), which holds for any
/// summation order, blocked or not, with or without fused multiply-add.
///
/// Matrix-vector shapes (`m == 1` or `n == 1`) are computed here in Swift, not through
/// OpenBLAS 0.3.21's GEMM-to-GEMV forwarding, which the project suspects of a heap
/// corruption; they are cheap either way.
enum MatrixProduct {
    /// OpenBLAS runs single-threaded inside the checker's own parallel chunks. Set once,
    /// before the first product (the executables already do so at start).
    private static let singleThreaded: Void = {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    }()

    static func prepare() { _ = singleThreaded }

    /// `C[m × n] (leading dimension ldc) = op(A) · op(B)` with `op(A)` `m × k` and `op(B)`
    /// `k × n`. Dimensions and leading dimensions are checked before OpenBLAS is called.
    static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                         a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                         c: UnsafeMutablePointer<Double>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "MatrixProduct: negative dimension")
        precondition(lda >= max(1, transposeA ? m : k), "MatrixProduct: lda \(lda) too small")
        precondition(ldb >= max(1, transposeB ? k : n), "MatrixProduct: ldb \(ldb) too small")
        precondition(ldc >= max(1, n), "MatrixProduct: ldc \(ldc) too small")
        if m == 0 || n == 0 { return }
        if k == 0 || m == 1 || n == 1 {
            // op(A)[i, p] = a[i·rowA + p·stepA], op(B)[p, j] = b[p·stepB + j·columnB]. Four
            // partial sums (one order among those the bound allows) keep the adds independent.
            let (rowA, stepA) = transposeA ? (1, lda) : (lda, 1)
            let (columnB, stepB) = transposeB ? (ldb, 1) : (1, ldb)
            for i in 0..<m {
                for j in 0..<n {
                    let x = a + i * rowA, y = b + j * columnB
                    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                    var p = 0
                    while p + 4 <= k {
                        s0 += x[p * stepA] * y[p * stepB]
                        s1 += x[(p + 1) * stepA] * y[(p + 1) * stepB]
                        s2 += x[(p + 2) * stepA] * y[(p + 2) * stepB]
                        s3 += x[(p + 3) * stepA] * y[(p + 3) * stepB]
                        p += 4
                    }
                    while p < k {
                        s0 += x[p * stepA] * y[p * stepB]
                        p += 1
                    }
                    c[i * ldc + j] = (s0 + s1) + (s2 + s3)
                }
            }
            return
        }
        precondition(m <= Int(Int32.max) && n <= Int(Int32.max) && k <= Int(Int32.max)
                     && lda <= Int(Int32.max) && ldb <= Int(Int32.max) && ldc <= Int(Int32.max),
                     "MatrixProduct: dimensions exceed 32 bits")
        prepare()
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }
}
