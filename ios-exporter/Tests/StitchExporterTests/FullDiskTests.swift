import Foundation
import Testing

@testable import StitchExporter

#if canImport(Glibc)
    import Glibc
#endif

/// A real full disk: a 64 KiB tmpfs, which needs root (CI runs as root; elsewhere the suite is skipped and says so).
final class SmallDisk: Sendable {
    let url: URL

    private init?(kilobytes: Int) {
        #if os(Linux)
            url = FileManager.default.temporaryDirectory.appendingPathComponent("stitch-disk-\(UUID().uuidString)")
            guard (try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)) != nil,
                mount("tmpfs", url.path, "tmpfs", 0, "size=\(kilobytes)k") == 0
            else {
                try? FileManager.default.removeItem(at: url)
                return nil
            }
        #else
            return nil
        #endif
    }

    static func make(kilobytes: Int) -> SmallDisk? { SmallDisk(kilobytes: kilobytes) }

    static let available: Bool = {
        guard getuid() == 0, let probe = SmallDisk(kilobytes: 16) else { return false }
        _ = probe
        return true
    }()

    deinit {
        #if os(Linux)
            umount(url.path)
        #endif
        try? FileManager.default.removeItem(at: url)
    }
}

@Suite(.enabled(if: SmallDisk.available, "needs root to mount a small tmpfs (CI runs as root)"))
struct FullDiskTests {
    @Test func aFullDiskMakesRoomFromRoutineBatchesForAnError() throws {
        let disk = try #require(SmallDisk.make(kilobytes: 64))
        // The folder bound is far above the disk: only the disk says no.
        let folder = BatchFolder(directory: disk.url, limits: .init(maxFileBytes: 1 << 20, maxFolderBytes: 1 << 30))
        // Routine batches far beyond the disk: each that does not fit pushes out the oldest routine one.
        var evictedRoutine = 0
        for i in 0..<100 {
            let r = BatchRecord(
                signal: .traces, important: false, split: false, itemCount: 2, createdMs: Int64(i),
                payload: Array(repeating: UInt8(i), count: 12_000))
            switch folder.write(r) {
            case .written(_, let evicted), .dropped(_, let evicted): evictedRoutine += evicted.spans
            }
        }
        let routine = folder.pending(nowMs: 200).batches
        #expect(evictedRoutine > 0)
        #expect(routine.count < 6)
        #expect(routine.map(\.createdMs).allSatisfy { $0 >= 90 }, "the newest routine batches are the ones kept")
        let error = BatchRecord(
            signal: .traces, important: true, split: false, itemCount: 1, createdMs: 500,
            payload: Array(repeating: 0xEE, count: 12_000))
        guard case .written(_, let evicted) = folder.write(error) else {
            Issue.record("the error batch was dropped while routine batches filled the disk")
            return
        }
        #expect(evicted.spans >= 2)
        let left = folder.pending(nowMs: 600).batches
        #expect(left.first?.important == true)
        #expect(left.filter { !$0.important }.count < routine.count)
    }
}
