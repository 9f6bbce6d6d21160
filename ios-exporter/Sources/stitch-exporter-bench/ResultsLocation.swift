import Foundation

/// Where `Benchmarks/results.md` goes: the package this source was built from (found from `#filePath`), else the
/// package in or below the current directory.
enum ResultsLocation {
    struct NotFound: Error, CustomStringConvertible {
        let description: String
    }

    static func defaultFile() throws(NotFound) -> URL {
        guard let package = packageDirectory() else {
            throw NotFound(
                description:
                    "cannot find the ios-exporter package (not at the build's source path nor in the current "
                    + "directory); pass --out PATH")
        }
        return package.appendingPathComponent("Benchmarks/results.md")
    }

    static func packageDirectory() -> URL? {
        let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let candidates = [fromSource, cwd, cwd.appendingPathComponent("ios-exporter")]
        return candidates.first(where: isExporterPackage)
    }

    /// A folder whose Package.swift declares this benchmark.
    private static func isExporterPackage(_ dir: URL) -> Bool {
        let manifest = dir.appendingPathComponent("Package.swift")
        guard let text = try? String(contentsOf: manifest, encoding: .utf8) else { return false }
        return text.contains("stitch-exporter-bench")
    }
}
