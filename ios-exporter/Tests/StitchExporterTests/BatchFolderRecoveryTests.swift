import Foundation
import Testing

@testable import StitchExporter

/// What the batch folder does with files it did not write whole, on real files: every truncation of a stored
/// batch and seeded garbage under batch names are refused, removed and reported with their item counts, and a
/// relaunch never replaces a batch still waiting. Complements BatchFolderTests.
struct BatchFolderRecoveryTests {
    static func record(important: Bool = false, items: Int = 3, at t: Int64, bytes: Int = 100) -> BatchRecord {
        BatchRecord(
            signal: .traces, important: important, split: false, itemCount: items, createdMs: t,
            payload: Array((0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(t)) }))
    }

    static func names(in url: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    /// The file cut at each length a kill or a damaged disk could leave is listed, fails to load, and is gone.
    @Test func everyTruncationOfAStoredBatchIsRefusedAndRemoved() throws {
        let tmp = TemporaryFolder()
        let folder = BatchFolder(directory: tmp.url, limits: .init())
        guard case .written(let stored, _) = folder.write(Self.record(items: 4, at: 10)) else {
            Issue.record("write failed")
            return
        }
        let url = tmp.url.appendingPathComponent(stored.name)
        let whole = try Data(contentsOf: url)
        #expect(whole.count == BatchRecord.headerBytes + 100)
        for length in 0..<whole.count {
            try whole.prefix(length).write(to: url)
            let pending = folder.pending(nowMs: 20).batches
            #expect(pending.map(\.name) == [stored.name], "length \(length)")
            #expect(pending.map { folder.load($0) } == [nil], "length \(length)")
            #expect(Self.names(in: tmp.url).isEmpty, "length \(length)")
        }
    }

    /// Seeded garbage (a bounded count) under names that parse as batches: none loads, each is removed, and the
    /// items their names declare are what a caller counts as unreadable.
    @Test func seededGarbageUnderBatchNamesIsRefusedRemovedAndCounted() throws {
        let tmp = TemporaryFolder()
        let folder = BatchFolder(directory: tmp.url, limits: .init())
        var state: UInt64 = 0x5EED_BA7C
        var declared = 0
        for i in 0..<64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 54)  // 0 ..< 1024
            var bytes = (0..<length).map { UInt8(truncatingIfNeeded: (state >> UInt64($0 % 56)) &+ UInt64($0)) }
            // Half of them start like a batch, so decoding gets past the magic.
            if i % 2 == 0, bytes.count >= 5 { bytes.replaceSubrange(0..<5, with: BatchRecord.magic + [1]) }
            let items = i + 1
            declared += items
            let kind = i % 3 == 0 ? "ti" : "tr"
            let name = String(format: "%016d-%08x", 1_000 + i, 0xF000 + i) + "-\(kind)-\(items).stb"
            try Data(bytes).write(to: tmp.url.appendingPathComponent(name))
        }
        let pending = folder.pending(nowMs: 2_000).batches
        #expect(pending.count == 64)
        var unreadable = 0
        for stored in pending where folder.load(stored) == nil { unreadable += stored.itemCount }
        #expect(unreadable == declared)
        #expect(Self.names(in: tmp.url).isEmpty)
        #expect(folder.pending(nowMs: 2_000).batches.isEmpty)
    }

    /// A batch cut after a relaunch in the same wall millisecond as one still waiting from the previous launch (a
    /// clock set back, a test clock) gets a name of its own: the atomic rename must not replace the waiting batch.
    @Test func aRelaunchNeverReplacesABatchStillWaiting() {
        let tmp = TemporaryFolder()
        let before = BatchFolder(directory: tmp.url, limits: .init())
        guard case .written = before.write(Self.record(items: 5, at: 1_000)) else {
            Issue.record("write failed")
            return
        }
        let after = BatchFolder(directory: tmp.url, limits: .init())
        guard case .written = after.write(Self.record(items: 5, at: 1_000, bytes: 200)) else {
            Issue.record("write failed")
            return
        }
        #expect(after.pending(nowMs: 2_000).batches.map(\.itemCount) == [5, 5])
    }
}
