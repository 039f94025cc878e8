// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Evident",
    products: [
        .library(name: "Evident", targets: ["Evident"]),
        .executable(name: "evident", targets: ["EvidentCLI"]),
        .executable(name: "evident-bench", targets: ["EvidentBenchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Pinned exactly: Sources/EvidentONNX/Generated was produced with this version's protoc-gen-swift.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        // C libraries, each behind one small Swift wrapper.
        .systemLibrary(name: "CGLPK", path: "Sources/CGLPK", providers: [.apt(["libglpk-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),

        // The pipeline, one module per concern.
        .target(name: "EvidentIR"),
        .target(name: "EvidentONNX",
                dependencies: ["EvidentIR", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["Generated/README.md"]),
        .target(name: "EvidentNNet", dependencies: ["EvidentIR"]),
        .target(name: "EvidentVNNLib"),
        .target(name: "EvidentEval", dependencies: ["EvidentIR", "COpenBLAS"]),
        .target(name: "EvidentLP", dependencies: ["CGLPK"]),
        .target(name: "EvidentBounds", dependencies: ["EvidentIR", "EvidentEval"]),
        .target(name: "Evident",
                dependencies: ["EvidentIR", "EvidentONNX", "EvidentNNet", "EvidentVNNLib", "EvidentEval", "EvidentLP",
                              "EvidentBounds"]),
        .executableTarget(name: "EvidentCLI",
                          dependencies: ["Evident", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "EvidentBenchmarks", dependencies: ["Evident", "EvidentTestSupport"]),
        // Locates ../shared/benchmarks for tests and benchmark commands.
        .target(name: "EvidentTestSupport", dependencies: ["EvidentIR"]),

        .testTarget(name: "EvidentIRTests", dependencies: ["EvidentTestSupport", "EvidentIR", "EvidentEval", "EvidentONNX", "EvidentVNNLib"]),
        .testTarget(name: "EvidentONNXTests", dependencies: ["EvidentTestSupport", "EvidentONNX", "EvidentEval"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "EvidentNNetTests", dependencies: ["EvidentTestSupport", "EvidentNNet", "EvidentONNX", "EvidentEval"]),
        .testTarget(name: "EvidentVNNLibTests", dependencies: ["EvidentTestSupport", "EvidentVNNLib"]),
        .testTarget(name: "EvidentEvalTests", dependencies: ["EvidentTestSupport", "Evident"], exclude: ["Fixtures"]),
        .testTarget(name: "EvidentBoundsTests", dependencies: ["EvidentTestSupport", "Evident"], exclude: ["Fixtures"]),
        .testTarget(name: "EvidentLPTests", dependencies: ["EvidentTestSupport", "EvidentLP"]),
        .testTarget(name: "EvidentCLITests", dependencies: ["EvidentTestSupport", "Evident"]),
    ],
    swiftLanguageModes: [.v5]
)
