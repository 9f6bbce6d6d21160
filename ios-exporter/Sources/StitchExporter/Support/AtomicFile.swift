import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a file so that a kill at any instant leaves either the old content or the new, never a mix: write a
/// temporary file beside it, `fsync` it, `rename` it over the target, `fsync` the folder.
enum AtomicFile {
    struct WriteError: Error, CustomStringConvertible {
        let path: String
        let operation: String
        let errno: Int32
        var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    }

    static func write(_ bytes: [UInt8], to url: URL) throws {
        let target = url.path
        let temporary = target + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw WriteError(path: temporary, operation: "open", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { raw in
                    Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WriteError(path: temporary, operation: "write", errno: errno)
                }
                offset += n
            }
            guard fsync(fd) == 0 else { throw WriteError(path: temporary, operation: "fsync", errno: errno) }
        }
        guard rename(temporary, target) == 0 else {
            throw WriteError(path: target, operation: "rename", errno: errno)
        }
        ok = true
        syncFolder(of: url)
    }

    /// Makes the rename itself durable. Best effort: a folder that cannot be opened still holds the renamed file.
    static func syncFolder(of url: URL) {
        let dir = open(url.deletingLastPathComponent().path, O_RDONLY)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    /// A file's bytes, or nil when it does not exist.
    static func read(_ url: URL, maxBytes: Int) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        guard data.count <= maxBytes else {
            throw WriteError(path: url.path, operation: "read (over \(maxBytes) bytes)", errno: EFBIG)
        }
        return Array(data)
    }
}
