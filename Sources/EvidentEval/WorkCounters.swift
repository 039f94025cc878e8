import Synchronization

/// Process-wide counts of the work done, for benchmarks: floating-point operations of the
/// matrix products (`2·m·n·k` per ``BLAS/gemm(_:_:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``
/// call, whatever computes it) and the backward passes of the bound engine (one per chunk
/// of rows run from a target back to the input). Relaxed atomics: a few nanoseconds a call.
public enum WorkCounters {
    @usableFromInline static let flopCount = Atomic<Int>(0)
    static let passCount = Atomic<Int>(0)
    static let rowCount = Atomic<Int>(0)

    /// Floating-point operations of matrix products so far.
    public static var flops: Int { flopCount.load(ordering: .relaxed) }
    /// Backward passes so far, and the rows they carried.
    public static var passes: (count: Int, rows: Int) {
        (passCount.load(ordering: .relaxed), rowCount.load(ordering: .relaxed))
    }

    @inlinable
    public static func addFlops(_ n: Int) { flopCount.add(n, ordering: .relaxed) }

    /// Records one backward pass of `rows` rows.
    public static func recordPass(rows: Int) {
        passCount.add(1, ordering: .relaxed)
        rowCount.add(rows, ordering: .relaxed)
    }

    /// Sets every count to zero.
    public static func reset() {
        flopCount.store(0, ordering: .relaxed)
        passCount.store(0, ordering: .relaxed)
        rowCount.store(0, ordering: .relaxed)
    }
}
