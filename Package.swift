// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Evident",
    products: [
        .library(name: "Evident", targets: ["Evident"]),
        .executable(name: "evident", targets: ["EvidentCLI"]),
        .executable(name: "evident-bench", targets: ["EvidentBenchmarks"]),
        .executable(name: "evident-fuzz", targets: ["EvidentFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Pinned exactly: Sources/EvidentONNX/Generated was produced with this version's protoc-gen-swift.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        // SHA-256 of the files a certificate binds.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // Exact rational arithmetic in the tests of the sound arithmetic.
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
    ],
    targets: [
        // C libraries, each behind one small Swift wrapper.
        .systemLibrary(name: "CGLPK", path: "Sources/CGLPK", providers: [.apt(["libglpk-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libpng (libpng-dev) behind a small C wrapper: libpng reports errors by longjmp.
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png")]),

        // The pipeline, one module per concern.
        .target(name: "EvidentIO", dependencies: ["CZlib", "CPNG", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "EvidentSoundArithmetic"),
        .target(name: "EvidentIR"),
        .target(name: "EvidentONNX",
                dependencies: ["EvidentIR", "EvidentIO", "EvidentSoundArithmetic",
                               .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["Generated/README.md"]),
        .target(name: "EvidentNNet", dependencies: ["EvidentIR", "EvidentIO"]),
        .target(name: "EvidentVNNLib", dependencies: ["EvidentIO", "EvidentIR", "EvidentSoundArithmetic"]),
        .target(name: "EvidentEval", dependencies: ["EvidentIR", "COpenBLAS"]),
        .target(name: "EvidentLP", dependencies: ["CGLPK", "EvidentIR", "EvidentSoundArithmetic"]),
        .target(name: "EvidentBounds", dependencies: ["EvidentIR", "EvidentEval"]),
        // The proof format, shared by the verifier (writes) and the checker (reads).
        .target(name: "EvidentCertificate"),
        // The trusted kernel: imports nothing that searches for proofs.
        .target(name: "EvidentChecker",
                dependencies: ["EvidentIR", "EvidentONNX", "EvidentNNet", "EvidentVNNLib", "EvidentIO",
                               "EvidentSoundArithmetic", "EvidentCertificate", "COpenBLAS"]),
        // Search: attacks, incomplete verification, LP refinement, branch and bound, verdicts.
        .target(name: "EvidentVerification",
                dependencies: ["EvidentIR", "EvidentVNNLib", "EvidentEval", "EvidentBounds", "EvidentLP",
                               "EvidentCertificate", "EvidentChecker"]),
        // Explanations: EVA attribution maps with certified bounds, heatmaps.
        .target(name: "EvidentExplanations",
                dependencies: ["EvidentIR", "EvidentIO", "EvidentEval", "EvidentBounds", "EvidentCertificate", "EvidentChecker",
                               "EvidentVerification"]),
        // Campaigns: many instances through `evident verify`, resumable, sharded, summarised.
        .target(name: "EvidentCampaign", dependencies: ["EvidentIO"]),
        .target(name: "Evident",
                dependencies: ["EvidentCampaign", "EvidentIR", "EvidentIO", "EvidentONNX", "EvidentNNet", "EvidentVNNLib", "EvidentEval",
                               "EvidentLP", "EvidentBounds", "EvidentCertificate", "EvidentChecker",
                               "EvidentVerification", "EvidentExplanations"]),
        .executableTarget(name: "EvidentCLI",
                          dependencies: ["Evident", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The untrusted-input readers as fuzz targets (scripts/fuzz.sh), and their replayer.
        .target(name: "EvidentFuzzing",
                dependencies: ["EvidentIR", "EvidentIO", "EvidentONNX", "EvidentNNet", "EvidentVNNLib", "EvidentEval",
                               "EvidentBounds", "EvidentCertificate", "EvidentChecker"]),
        .executableTarget(name: "EvidentFuzz", dependencies: ["EvidentFuzzing"]),
        .executableTarget(name: "EvidentBenchmarks", dependencies: ["Evident", "EvidentTestSupport"]),
        // Locates ../shared/benchmarks for tests and benchmark commands; seeded networks, exact dyadic rationals.
        .target(name: "EvidentTestSupport", dependencies: ["EvidentIR", .product(name: "BigInt", package: "BigInt")]),

        .testTarget(name: "EvidentIRTests", dependencies: ["EvidentTestSupport", "EvidentIR", "EvidentEval", "EvidentONNX", "EvidentVNNLib"]),
        .testTarget(name: "EvidentONNXTests", dependencies: ["EvidentTestSupport", "EvidentONNX", "EvidentEval"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "EvidentNNetTests", dependencies: ["EvidentTestSupport", "EvidentNNet", "EvidentONNX", "EvidentEval"]),
        .testTarget(name: "EvidentVNNLibTests", dependencies: ["EvidentTestSupport", "EvidentVNNLib"], exclude: ["Fixtures"]),
        .testTarget(name: "EvidentEvalTests", dependencies: ["EvidentTestSupport", "Evident"], exclude: ["Fixtures"]),
        .testTarget(name: "EvidentBoundsTests", dependencies: ["EvidentTestSupport", "Evident"], exclude: ["Fixtures"]),
        .testTarget(name: "EvidentLPTests", dependencies: ["EvidentTestSupport", "EvidentLP", "Evident"]),
        .testTarget(name: "EvidentIOTests", dependencies: ["EvidentTestSupport", "EvidentIO"]),
        .testTarget(name: "EvidentSoundArithmeticTests",
                    dependencies: ["EvidentTestSupport", "EvidentSoundArithmetic", .product(name: "BigInt", package: "BigInt")]),
        .testTarget(name: "EvidentCertificateTests", dependencies: ["EvidentTestSupport", "EvidentCertificate"]),
        .testTarget(name: "EvidentCheckerTests",
                    dependencies: ["EvidentTestSupport", "Evident", .product(name: "BigInt", package: "BigInt")]),
        .testTarget(name: "EvidentVerificationTests", dependencies: ["EvidentTestSupport", "Evident"]),
        .testTarget(name: "EvidentCLITests", dependencies: ["EvidentTestSupport", "Evident"], exclude: ["Fixtures"]),
        .testTarget(name: "EvidentCampaignTests", dependencies: ["EvidentTestSupport", "EvidentCampaign"]),
        .testTarget(name: "EvidentExplanationsTests", dependencies: ["EvidentTestSupport", "Evident"], exclude: ["Fixtures"]),
        // Every input the fuzzers once failed on, replayed; hostile inputs with their errors and limits.
        .testTarget(name: "EvidentFuzzingTests", dependencies: ["EvidentTestSupport", "EvidentFuzzing", "Evident"],
                    exclude: ["Fixtures"]),
        // Soundness torture: planted counterexamples, differential runs against MILP, tampered proofs.
        .testTarget(name: "EvidentTortureTests",
                    dependencies: ["EvidentTestSupport", "Evident", .product(name: "BigInt", package: "BigInt")]),
    ],
    swiftLanguageModes: [.v5]
)
