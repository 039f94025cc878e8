#if canImport(Glibc)
import Glibc
#endif

/// Process-wide settings for the numeric kernels, applied once by each executable at start.
public enum ProcessSettings {
    /// OpenBLAS single-threaded (the bound engine and the checker parallelise over chunks of
    /// rows themselves, and many products are too small for OpenBLAS's own threads to pay
    /// off), and large allocations kept in the heap: coefficient matrices of megabytes are
    /// allocated and freed at every step, and glibc would otherwise map and unmap each one.
    ///
    /// Call it before any other thread uses BLAS: OpenBLAS's thread count must not change
    /// while another thread is inside a BLAS call. Later calls do nothing.
    public static func configure() { _ = once }

    private static let once: Void = {
        BLAS.threadCount = 1
        #if os(Linux)
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 30)
        _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, 1 << 30)
        #endif
    }()
}

#if os(Linux)
/// glibc's `mallopt` (declared in `malloc.h`, which the Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
