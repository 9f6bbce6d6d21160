import Testing

@testable import StitchExporter

struct BatchRecordTests {
    let record = BatchRecord(
        signal: .logs, important: true, split: false, itemCount: 42, createdMs: 1_765_000_000_123,
        payload: Array((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }))

    @Test func roundTrip() throws {
        #expect(try BatchRecord.decode(record.encoded()) == record)
        var split = record
        split.split = true
        split.important = false
        split.signal = .traces
        #expect(try BatchRecord.decode(split.encoded()) == split)
    }

    @Test func everyTruncationIsRefused() {
        let bytes = record.encoded()
        for length in 0..<bytes.count {
            #expect(throws: BatchRecord.DecodeError.self) { try BatchRecord.decode(Array(bytes[..<length])) }
        }
    }

    @Test func everyFlippedByteIsRefused() {
        let bytes = record.encoded()
        // Every header byte and a sample of payload bytes: the checksum covers both.
        for i in Array(0..<BatchRecord.headerBytes) + [28, 100, 200, bytes.count - 1] {
            var damaged = bytes
            damaged[i] ^= 0x5A
            #expect(throws: BatchRecord.DecodeError.self) { try BatchRecord.decode(damaged) }
        }
    }

    @Test func seededGarbageIsRefusedNotACrash() {
        var state: UInt64 = 0xDEAD_BEEF
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            let n = Int(state >> 55)
            var g = (0..<n).map { UInt8(truncatingIfNeeded: (state >> UInt64($0 % 48)) ^ UInt64($0)) }
            if g.count >= 4, state & 1 == 0 { g.replaceSubrange(0..<4, with: BatchRecord.magic) }
            #expect(throws: BatchRecord.DecodeError.self) { try BatchRecord.decode(g) }
        }
    }
}

struct EvictionPlanTests {
    func c(_ name: String, _ bytes: Int, important: Bool = false, at t: Int64) -> EvictionPlan.Candidate {
        .init(name: name, bytes: bytes, important: important, createdMs: t)
    }

    @Test func nothingGoesWhileItFits() {
        let p = EvictionPlan.plan(existing: [c("a", 10, at: 1)], incoming: c("n", 10, at: 9), maxFolderBytes: 20)
        #expect(p == .init(evict: [], writeIncoming: true))
    }

    @Test func routineGoesBeforeImportantOldestFirst() {
        let existing = [
            c("err-old", 10, important: true, at: 1), c("routine-new", 10, at: 5), c("routine-old", 10, at: 2),
            c("err-new", 10, important: true, at: 6),
        ]
        let p = EvictionPlan.plan(existing: existing, incoming: c("n", 10, important: true, at: 9), maxFolderBytes: 30)
        #expect(p.evict.map(\.name) == ["routine-old", "routine-new"])
        #expect(p.writeIncoming)
        let q = EvictionPlan.plan(existing: existing, incoming: c("n", 30, important: true, at: 9), maxFolderBytes: 40)
        #expect(q.evict.map(\.name) == ["routine-old", "routine-new", "err-old"])
    }

    @Test func aRoutineBatchNeverPushesOutAnError() {
        let existing = [c("e1", 10, important: true, at: 1), c("e2", 10, important: true, at: 2)]
        let p = EvictionPlan.plan(existing: existing, incoming: c("n", 10, at: 9), maxFolderBytes: 25)
        #expect(p == .init(evict: [], writeIncoming: false))
    }

    @Test func aNewRoutineBatchReplacesTheOldestRoutineOne() {
        let existing = [c("r1", 10, at: 1), c("e", 10, important: true, at: 0), c("r2", 10, at: 2)]
        let p = EvictionPlan.plan(existing: existing, incoming: c("n", 10, at: 9), maxFolderBytes: 30)
        #expect(p == .init(evict: [existing[0]], writeIncoming: true))
    }
}
