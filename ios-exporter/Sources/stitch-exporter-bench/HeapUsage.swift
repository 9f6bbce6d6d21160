import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Bytes the C heap has handed out and not yet taken back, from glibc's `malloc_info` (looked up at run time:
/// the Glibc module does not import `malloc.h`). It counts bytes, not calls: how many allocations a span costs
/// cannot be read this way, and Swift refuses to interpose `malloc`.
enum HeapUsage {
    /// In-use heap bytes now; nil where glibc's `malloc_info` is not available.
    static func inUseBytes() -> Int? {
        #if canImport(Glibc)
            guard let report = mallocInfoXML() else { return nil }
            // The totals after the last heap: arena bytes obtained from the system, minus the free chunks, plus
            // the chunks served by mmap directly.
            guard let system = value(in: report, tag: "<system type=\"current\" size=\""),
                let fast = value(in: report, tag: "<total type=\"fast\" count=\"", attribute: "size=\""),
                let rest = value(in: report, tag: "<total type=\"rest\" count=\"", attribute: "size=\""),
                let mmap = value(in: report, tag: "<total type=\"mmap\" count=\"", attribute: "size=\"")
            else { return nil }
            return system - fast - rest + mmap
        #else
            return nil
        #endif
    }

    #if canImport(Glibc)
        private typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32

        private static func mallocInfoXML() -> String? {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info") else { return nil }
            let mallocInfo = unsafeBitCast(symbol, to: MallocInfo.self)
            var buffer: UnsafeMutablePointer<CChar>?
            var size = 0
            guard let stream = open_memstream(&buffer, &size) else { return nil }
            let code = mallocInfo(0, stream)
            fclose(stream)
            defer { free(buffer) }
            guard code == 0, let buffer else { return nil }
            return String(cString: buffer)
        }

        /// The number after the last occurrence of `tag` (or after `attribute` following it).
        private static func value(in report: String, tag: String, attribute: String? = nil) -> Int? {
            guard var rest = report.range(of: tag, options: .backwards).map({ report[$0.upperBound...] }) else {
                return nil
            }
            if let attribute {
                guard let r = rest.range(of: attribute) else { return nil }
                rest = rest[r.upperBound...]
            }
            return Int(rest.prefix(while: { $0.isNumber }))
        }
    #endif
}
