print("benchmarks: in progress")
