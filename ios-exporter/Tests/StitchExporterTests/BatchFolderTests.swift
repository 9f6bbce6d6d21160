import Foundation
import Testing

@testable import StitchExporter

/// The batch folder on real files, with real fsync and renames.
struct BatchFolderTests {
    static func record(
        _ signal: BatchRecord.Signal = .traces, important: Bool = false, items: Int = 3, at t: Int64,
        bytes: Int = 100
    ) -> BatchRecord {
        BatchRecord(
            signal: signal, important: important, split: false, itemCount: items, createdMs: t,
            payload: Array(repeating: UInt8(truncatingIfNeeded: t), count: bytes))
    }

    @Test func writtenBatchesAreListedImportantFirstThenOldestAndReadBack() throws {
        let tmp = TemporaryFolder()
        let folder = BatchFolder(directory: tmp.url.appendingPathComponent("batches"), limits: .init())
        let a = Self.record(at: 1_000)
        let b = Self.record(.logs, important: true, at: 2_000)
        let c = Self.record(at: 500)
        for r in [a, b, c] {
            guard case .written = folder.write(r) else {
                Issue.record("write failed")
                return
            }
        }
        let pending = folder.pending(nowMs: 3_000).batches
        #expect(pending.map(\.createdMs) == [2_000, 500, 1_000])
        #expect(pending.map(\.important) == [true, false, false])
        #expect(folder.load(pending[0]) == b)
        #expect(folder.totalBytes == 3 * (BatchRecord.headerBytes + 100))
    }

    @Test func theFolderBoundHoldsAndRoutineGoesFirst() throws {
        let tmp = TemporaryFolder()
        let size = BatchRecord.headerBytes + 100
        let folder = BatchFolder(directory: tmp.url, limits: .init(maxFolderBytes: size * 5))
        var evictedSpans = 0
        for i in 0..<40 {
            let outcome = folder.write(Self.record(important: i % 4 == 0, items: 1, at: Int64(i)))
            switch outcome {
            case .written(_, let evicted), .dropped(_, let evicted): evictedSpans += evicted.spans
            }
            #expect(folder.totalBytes <= size * 5)
        }
        let left = folder.pending(nowMs: 100).batches
        // Ten important batches were written; the five newest of them are what the bound keeps.
        #expect(left.count == 5)
        #expect(left.allSatisfy { $0.important })
        #expect(left.map(\.createdMs) == [20, 24, 28, 32, 36])
        #expect(evictedSpans > 0)
    }

    @Test func aBatchOverTheFileBoundIsADroppedWriteNotACrash() {
        let tmp = TemporaryFolder()
        let folder = BatchFolder(directory: tmp.url, limits: .init(maxFileBytes: 64))
        #expect(folder.write(Self.record(at: 1)) == .dropped(.diskFull, evicted: .init()))
        #expect(folder.isEmpty)
    }

    @Test func expiredBatchesAreRemovedAndReported() {
        let tmp = TemporaryFolder()
        let folder = BatchFolder(directory: tmp.url, limits: .init(maxAgeMs: 1_000))
        _ = folder.write(Self.record(items: 7, at: 0))
        _ = folder.write(Self.record(.logs, items: 2, at: 0))
        _ = folder.write(Self.record(items: 1, at: 5_000))
        let (batches, expired) = folder.pending(nowMs: 5_500)
        #expect(batches.map(\.createdMs) == [5_000])
        #expect(expired == .init(spans: 7, logs: 2))
        #expect(folder.pending(nowMs: 5_500).batches.count == 1)
    }

    @Test func aMalformedOrTruncatedFileIsSkippedAndRemoved() throws {
        let tmp = TemporaryFolder()
        let folder = BatchFolder(directory: tmp.url, limits: .init())
        guard case .written(let good, _) = folder.write(Self.record(at: 10)) else {
            Issue.record("write failed")
            return
        }
        // A truncated copy under another batch name, and garbage under a third.
        let bytes = try Data(contentsOf: tmp.url.appendingPathComponent(good.name))
        let truncated = "0000000000000011-000000ff-tr-3.stb"
        let garbage = "0000000000000012-000000fe-ti-9.stb"
        try bytes.prefix(40).write(to: tmp.url.appendingPathComponent(truncated))
        try Data("not a batch".utf8).write(to: tmp.url.appendingPathComponent(garbage))
        try Data().write(to: tmp.url.appendingPathComponent("stray.stb"))
        let pending = folder.pending(nowMs: 20).batches
        #expect(pending.count == 3)
        let loaded = pending.map { folder.load($0) }
        #expect(loaded.compactMap { $0 }.count == 1)
        let names = try FileManager.default.contentsOfDirectory(atPath: tmp.url.path)
        #expect(names == [good.name])
    }

    @Test func aDeliveryRecordedBeforeAKillIsNeverListedAgain() throws {
        let tmp = TemporaryFolder()
        let first = BatchFolder(directory: tmp.url, limits: .init())
        guard case .written(let stored, _) = first.write(Self.record(at: 10)) else {
            Issue.record("write failed")
            return
        }
        // The process dies after the rename to .delivered and before the unlink; a half-written temporary file
        // of another write is there too.
        let path = tmp.url.appendingPathComponent(stored.name).path
        #expect(rename(path, path + BatchFolder.deliveredSuffix) == 0)
        try Data("half".utf8).write(to: tmp.url.appendingPathComponent(stored.name + ".tmp-123-456"))
        let relaunched = BatchFolder(directory: tmp.url, limits: .init())
        #expect(relaunched.pending(nowMs: 20).batches.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.url.path).isEmpty)
    }

    @Test func anUnwritableFolderIsACountedDropNotACrash() throws {
        let tmp = TemporaryFolder()
        // A file where the folder should be: creating it fails for every user, root included (a read-only
        // folder would not stop root, which CI runs as).
        let blocked = tmp.url.appendingPathComponent("batches")
        try Data("x".utf8).write(to: blocked)
        let folder = BatchFolder(directory: blocked, limits: .init())
        #expect(folder.write(Self.record(at: 1)) == .dropped(.diskFull, evicted: .init()))
        #expect(folder.pending(nowMs: 2).batches.isEmpty)
    }

    @Test func removeAllEmptiesTheFolder() {
        let tmp = TemporaryFolder()
        let dir = tmp.url.appendingPathComponent("batches")
        let folder = BatchFolder(directory: dir, limits: .init())
        for i in 0..<5 { _ = folder.write(Self.record(at: Int64(i))) }
        folder.removeAll()
        #expect(folder.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }
}

struct BatchFolderNameTests {
    @Test func aBatchWhoseHeaderDisagreesWithItsNameIsRefused() throws {
        let tmp = TemporaryFolder()
        let folder = BatchFolder(directory: tmp.url, limits: .init())
        guard case .written(let stored, _) = folder.write(BatchFolderTests.record(items: 3, at: 10)) else {
            Issue.record("write failed")
            return
        }
        // The same bytes under a name claiming an important batch of 9 items.
        let liar = "0000000000000010-0000ffff-ti-9.stb"
        try FileManager.default.copyItem(
            at: tmp.url.appendingPathComponent(stored.name), to: tmp.url.appendingPathComponent(liar))
        let pending = folder.pending(nowMs: 20).batches
        let fake = try #require(pending.first { $0.name == liar })
        #expect(folder.load(fake) == nil)
        #expect(folder.load(stored) != nil)
    }

    @Test func aFolderNamedLikeABatchIsNotABatch() throws {
        let tmp = TemporaryFolder()
        try FileManager.default.createDirectory(
            at: tmp.url.appendingPathComponent("0000000000000010-00000001-tr-3.stb"), withIntermediateDirectories: true)
        let folder = BatchFolder(directory: tmp.url, limits: .init())
        #expect(folder.pending(nowMs: 20).batches.isEmpty)
    }
}
