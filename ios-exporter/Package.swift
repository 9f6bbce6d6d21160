// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "StitchExporter",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "StitchExporter", targets: ["StitchExporter"]),
        .executable(name: "stitch-exporter-demo", targets: ["stitch-exporter-demo"]),
        .executable(name: "stitch-exporter-bench", targets: ["stitch-exporter-bench"]),
    ],
    targets: [
        // zlib, which Linux and every Apple platform ship; gzip for OTLP/HTTP bodies.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // The shared telemetry schema's rules, pure and Foundation-only: the vectors run against this target.
        .target(name: "StitchSchema"),
        // The OTLP data model, the hand-written protobuf encoder and gzip.
        .target(name: "StitchOTLP", dependencies: ["CZlib"]),
        // The exporter: sessions, consent, propagation, instrumentation, the pipeline and the public API.
        .target(name: "StitchExporter", dependencies: ["StitchSchema", "StitchOTLP"]),
        // Doubles (clock, network, power, lifecycle) and the loopback OTLP receiver harness, for tests and the demo.
        .target(name: "StitchTestSupport", dependencies: ["StitchExporter", "StitchOTLP", "StitchSchema"]),
        .executableTarget(
            name: "stitch-exporter-demo", dependencies: ["StitchExporter", "StitchTestSupport"]),
        // Measures the record path, encoding, wire size, memory and CPU; writes Benchmarks/results.md.
        .executableTarget(
            name: "stitch-exporter-bench",
            dependencies: ["StitchExporter", "StitchOTLP", "StitchSchema", "StitchTestSupport"]),
        // A child process for the restart tests: starts the exporter on a state folder at a given time, reports
        // its session, and waits to be killed.
        .executableTarget(
            name: "stitch-exporter-probe", dependencies: ["StitchExporter", "StitchTestSupport"],
            path: "Tests/Probe"),
        .testTarget(name: "StitchSchemaTests", dependencies: ["StitchSchema", "StitchTestSupport"]),
        .testTarget(name: "StitchOTLPTests", dependencies: ["StitchOTLP", "StitchTestSupport"]),
        .testTarget(
            name: "StitchExporterTests",
            dependencies: ["StitchExporter", "StitchTestSupport", "StitchOTLP", "StitchSchema"]),
    ],
    swiftLanguageModes: [.v6]
)
