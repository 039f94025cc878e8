#include <cblas.h>

/// OpenBLAS's own (exported, undeclared in cblas.h): stops its thread pool; the pool is
/// started again by the next call that asks for more than one thread.
int blas_thread_shutdown_(void);
