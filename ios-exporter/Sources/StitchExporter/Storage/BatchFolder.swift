import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The folder of batches waiting to be uploaded, in the exporter's state folder. Each batch is one file written
/// atomically (write, fsync, rename), so a kill at any instant leaves a whole batch or none. Used from the export
/// queue only.
///
/// A file's name carries what listing and eviction need without reading it:
/// `<created ms>-<sequence>-<t|l><i|r>-<items>.stb` (traces or logs, important or routine). After a 2xx the file is
/// renamed to `.delivered` before it is unlinked, and a start-up removes any `.delivered` file left by a kill, so a
/// batch is never listed again once its delivery was recorded. (A kill between the 2xx arriving and that rename —
/// a few microseconds — can still resend it; every upload carries the batch's name in `X-Stitch-Batch` so a receiver
/// or proxy can drop the duplicate, and span IDs are unique anyway.)
final class BatchFolder: Sendable {
    struct Stored: Sendable, Equatable {
        var name: String
        var bytes: Int
        var signal: BatchRecord.Signal
        var important: Bool
        var itemCount: Int
        var createdMs: Int64
        var sequence: UInt32 = 0
    }

    /// Items the folder dropped, by signal, for the caller to count.
    struct Drops: Sendable, Equatable {
        var spans = 0
        var logs = 0

        mutating func add(_ signal: BatchRecord.Signal, _ n: Int) {
            if signal == .traces { spans += n } else { logs += n }
        }

        var isEmpty: Bool { spans == 0 && logs == 0 }
    }

    enum WriteOutcome: Sendable, Equatable {
        case written(Stored, evicted: Drops)
        /// The batch was not written: it was the least valuable for the bound, or the disk refused it.
        case dropped(DropReason, evicted: Drops)
    }

    static let suffix = ".stb"
    static let deliveredSuffix = ".delivered"

    let directory: URL
    let limits: BatchFolderLimits
    /// Starts after the highest sequence a previous launch left, so a relaunch (or a clock set back) never reuses
    /// a name still waiting; the rename would replace that batch.
    private let sequence: Locked<UInt32>

    init(directory: URL, limits: BatchFolderLimits) {
        self.directory = directory
        self.limits = limits
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let highest = names.compactMap { Self.parse($0)?.sequence }.max() ?? 0
        sequence = Locked(highest)
        removeLeftovers()
    }

    // MARK: Writing

    func write(_ record: BatchRecord) -> WriteOutcome {
        let bytes = record.encoded()
        let n = sequence.withLock { s -> UInt32 in
            s &+= 1
            return s
        }
        let name = Self.name(record, sequence: n)
        let incoming = EvictionPlan.Candidate(
            name: name, bytes: bytes.count, important: record.important, createdMs: record.createdMs)
        guard bytes.count <= limits.maxFileBytes else { return .dropped(.diskFull, evicted: Drops()) }
        let existing = list()
        let plan = EvictionPlan.plan(
            existing: existing.map {
                EvictionPlan.Candidate(name: $0.name, bytes: $0.bytes, important: $0.important, createdMs: $0.createdMs)
            }, incoming: incoming, maxFolderBytes: limits.maxFolderBytes)
        var evicted = Drops()
        for victim in plan.evict {
            guard let stored = existing.first(where: { $0.name == victim.name }) else { continue }
            remove(stored)
            evicted.add(stored.signal, stored.itemCount)
        }
        guard plan.writeIncoming else { return .dropped(.diskFull, evicted: evicted) }
        var written = store(bytes, name: name)
        if !written {
            // The disk itself is full (not the folder bound): make room from what is worth less than this batch,
            // then try once more.
            let cheaper = existing.filter { stored in
                !plan.evict.contains { $0.name == stored.name }
                    && (!stored.important && (record.important || stored.createdMs <= record.createdMs))
            }.sorted { $0.createdMs < $1.createdMs }
            var freed = 0
            for stored in cheaper where freed < bytes.count {
                remove(stored)
                evicted.add(stored.signal, stored.itemCount)
                freed += stored.bytes
            }
            written = freed > 0 && store(bytes, name: name)
        }
        guard written else { return .dropped(.diskFull, evicted: evicted) }
        return .written(
            Stored(
                name: name, bytes: bytes.count, signal: record.signal, important: record.important,
                itemCount: record.itemCount, createdMs: record.createdMs), evicted: evicted)
    }

    private func store(_ bytes: [UInt8], name: String) -> Bool {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try AtomicFile.write(bytes, to: directory.appendingPathComponent(name))
            return true
        } catch {
            return false
        }
    }

    // MARK: Reading

    /// The batches waiting, important ones first, then oldest first. Expired ones are removed and returned apart.
    func pending(nowMs: Int64) -> (batches: [Stored], expired: Drops) {
        var expired = Drops()
        var keep: [Stored] = []
        for s in list() {
            if nowMs - s.createdMs > limits.maxAgeMs {
                remove(s)
                expired.add(s.signal, s.itemCount)
            } else {
                keep.append(s)
            }
        }
        keep.sort { a, b in
            if a.important != b.important { return a.important }
            if a.createdMs != b.createdMs { return a.createdMs < b.createdMs }
            return a.name < b.name
        }
        return (keep, expired)
    }

    /// Reads one batch; nil (and the file removed) when it is not a whole, valid batch whose header agrees with
    /// its name.
    func load(_ stored: Stored) -> BatchRecord? {
        let url = directory.appendingPathComponent(stored.name)
        guard let bytes = try? AtomicFile.read(url, maxBytes: max(limits.maxFileBytes, BatchRecord.headerBytes)),
            let record = try? BatchRecord.decode(bytes), record.signal == stored.signal,
            record.important == stored.important, record.itemCount == stored.itemCount
        else {
            remove(stored)
            return nil
        }
        return record
    }

    var totalBytes: Int { list().reduce(0) { $0 + $1.bytes } }

    var isEmpty: Bool { list().isEmpty }

    // MARK: Removing

    /// Records the delivery (a rename, atomic) and then deletes the file.
    func markDelivered(_ stored: Stored) {
        let from = directory.appendingPathComponent(stored.name).path
        let to = from + Self.deliveredSuffix
        if rename(from, to) == 0 {
            AtomicFile.syncFolder(of: URL(fileURLWithPath: to))
            unlink(to)
        } else {
            unlink(from)
        }
    }

    func remove(_ stored: Stored) {
        unlink(directory.appendingPathComponent(stored.name).path)
    }

    /// Consent denied: every batch goes.
    func removeAll() {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Names

    static func name(_ r: BatchRecord, sequence: UInt32) -> String {
        let created = String(max(0, r.createdMs))
        let padded = String(repeating: "0", count: max(0, 16 - created.count)) + created
        let seq = String(sequence, radix: 16)
        let kind = (r.signal == .traces ? "t" : "l") + (r.important ? "i" : "r")
        return "\(padded)-\(String(repeating: "0", count: max(0, 8 - seq.count)) + seq)-\(kind)-\(r.itemCount)\(suffix)"
    }

    /// The stored batches whose names parse; anything else in the folder is not a batch and is left to cleanup.
    private func list() -> [Stored] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        var out: [Stored] = []
        for name in names where name.hasSuffix(Self.suffix) {
            guard let s = Self.parse(name) else {
                unlink(directory.appendingPathComponent(name).path)
                continue
            }
            let path = directory.appendingPathComponent(name).path
            var st = stat()
            // Only regular files are batches.
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            var stored = s
            stored.bytes = Int(st.st_size)
            out.append(stored)
        }
        return out
    }

    static func parse(_ name: String) -> Stored? {
        let parts = name.dropLast(suffix.count).split(separator: "-")
        guard name.hasSuffix(suffix), parts.count == 4, parts[0].count == 16, let created = Int64(parts[0]),
            parts[1].count == 8, let sequence = UInt32(parts[1], radix: 16), parts[2].count == 2,
            let items = Int(parts[3]), items >= 0
        else { return nil }
        let kind = Array(parts[2])
        guard kind[0] == "t" || kind[0] == "l", kind[1] == "i" || kind[1] == "r" else { return nil }
        return Stored(
            name: name, bytes: 0, signal: kind[0] == "t" ? .traces : .logs, important: kind[1] == "i",
            itemCount: items, createdMs: created, sequence: sequence)
    }

    /// A start-up finishes what a kill interrupted: deliveries recorded but not deleted, and temporary files of
    /// writes that never reached their rename.
    private func removeLeftovers() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.hasSuffix(Self.deliveredSuffix) || name.contains(".tmp-") {
            unlink(directory.appendingPathComponent(name).path)
        }
    }
}
