import Testing

@testable import StitchExporter

struct DeliveryScheduleTests {
    let schedule = DeliverySchedule(cellularRoutineDelayMs: 600_000)
    let created: Int64 = 1_000_000

    func conditions(
        _ network: NetworkStatus.ConnectionType, lowPower: Bool = false, ageMs: Int64, notBefore: Int64 = 0
    ) -> DeliverySchedule.Conditions {
        .init(network: network, lowPower: lowPower, nowMs: created + ageMs, notBeforeMs: notBefore)
    }

    @Test(arguments: [true, false])
    func nothingIsTriedWithoutANetwork(important: Bool) {
        #expect(
            schedule.decide(important: important, createdMs: created, conditions(.unavailable, ageMs: 99_999_999))
                == .waitForNetwork)
    }

    @Test(arguments: [NetworkStatus.ConnectionType.wifi, .wired, .unknown])
    func routineGoesAtOnceOnAnUnmeteredNetwork(network: NetworkStatus.ConnectionType) {
        #expect(schedule.decide(important: false, createdMs: created, conditions(network, ageMs: 0)) == .sendNow)
    }

    @Test func onCellularRoutineWaitsForItsThresholdWhileErrorsGoAtOnce() {
        #expect(
            schedule.decide(important: false, createdMs: created, conditions(.cell, ageMs: 1_000))
                == .waitUntil(created + 600_000))
        #expect(schedule.decide(important: false, createdMs: created, conditions(.cell, ageMs: 600_000)) == .sendNow)
        #expect(schedule.decide(important: true, createdMs: created, conditions(.cell, ageMs: 0)) == .sendNow)
    }

    @Test func lowPowerModeStretchesRoutineWaits() {
        #expect(
            schedule.decide(important: false, createdMs: created, conditions(.cell, lowPower: true, ageMs: 600_000))
                == .waitUntil(created + 2_400_000))
        #expect(
            schedule.decide(important: false, createdMs: created, conditions(.wifi, lowPower: true, ageMs: 0))
                == .waitUntil(created + 60_000))
        #expect(
            schedule.decide(important: true, createdMs: created, conditions(.wifi, lowPower: true, ageMs: 0))
                == .sendNow)
        #expect(schedule.cutInterval(base: 5, lowPower: true) == 20)
        #expect(schedule.cutInterval(base: 5, lowPower: false) == 5)
    }

    @Test(arguments: [true, false])
    func aServerRequestedWaitHoldsEveryBatch(important: Bool) {
        let c = conditions(.wifi, ageMs: 10_000_000, notBefore: created + 10_000_030)
        #expect(schedule.decide(important: important, createdMs: created, c) == .waitUntil(created + 10_000_030))
    }

    @Test func aBatchFromBeforeTheClockWasSetBackIsNotHeldUntilTheClockCatchesUp() {
        // Cut at day 2, and now the clock says day 1.
        let c = DeliverySchedule.Conditions(network: .cell, lowPower: true, nowMs: 86_400_000)
        #expect(schedule.decide(important: false, createdMs: 2 * 86_400_000, c) == .sendNow)
    }

    @Test func hugeSettingsDoNotOverflow() {
        let s = DeliverySchedule(cellularRoutineDelayMs: .max)
        let c = DeliverySchedule.Conditions(network: .cell, lowPower: true, nowMs: 0)
        #expect(s.routineWaitMs(c) == .max)
    }
}
