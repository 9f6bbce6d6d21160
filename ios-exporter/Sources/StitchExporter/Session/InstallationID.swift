import Foundation

/// The per-installation random identifier, kept in the exporter's folder. It leaves the device only as its keyed
/// hash (`app.installation.id`); denying consent deletes it, so a later grant starts a new, unlinkable one.
enum InstallationID {
    static func file(in directory: URL) -> URL { directory.appendingPathComponent("installation-id") }

    /// The stored ID, created on first use; nil when the folder cannot be written.
    static func load(in directory: URL, ids: any IDGenerator) -> String? {
        let url = file(in: directory)
        if let bytes = try? AtomicFile.read(url, maxBytes: 256) {
            let text = String(decoding: bytes, as: UTF8.self)
            if text.utf8.count == 32, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
            {
                return text
            }
        }
        let fresh = ids.sessionID()
        do {
            try AtomicFile.write(Array(fresh.utf8), to: url)
        } catch {
            return nil
        }
        return fresh
    }

    static func forget(in directory: URL) {
        try? FileManager.default.removeItem(at: file(in: directory))
    }
}
