import Foundation
import StitchSchema
import StitchTestSupport
import Testing

@testable import StitchExporter

/// The session survives the app being killed and relaunched within its window, and rotates by the schema's
/// rules across relaunches: a real child process, killed with SIGKILL, started again on the same folder.
struct RestartRotationTests {
    let t0: Int64 = 1_765_000_000_000
    let minute: Int64 = 60_000

    @Test func aKilledAppRelaunchedWithinTheWindowKeepsItsSession() throws {
        let folder = TemporaryFolder("stitch-restart")
        let first = try ProbeProcess.sessionThenKill(stateDirectory: folder.url, wallMillis: t0, event: "foreground")
        let relaunched = try ProbeProcess.sessionThenKill(
            stateDirectory: folder.url, wallMillis: t0 + minute, event: "foreground")
        #expect(relaunched == first)
        let ticked = try ProbeProcess.sessionThenKill(
            stateDirectory: folder.url, wallMillis: t0 + 10 * minute, event: "tick")
        #expect(ticked == first)
        // The state on disk is whole after every kill.
        let state = try #require(try FileSessionStore(directory: folder.url).load())
        #expect(state.sessionID == first)
    }

    @Test func relaunchingAfterFifteenMinutesInTheBackgroundStartsANewSession() throws {
        let folder = TemporaryFolder("stitch-restart")
        let first = try ProbeProcess.sessionThenKill(stateDirectory: folder.url, wallMillis: t0, event: "foreground")
        _ = try ProbeProcess.sessionThenKill(
            stateDirectory: folder.url, wallMillis: t0 + minute, event: "background")
        let next = try ProbeProcess.sessionThenKill(
            stateDirectory: folder.url, wallMillis: t0 + 17 * minute, event: "foreground")
        #expect(next != first)
        let state = try #require(try FileSessionStore(directory: folder.url).load())
        #expect(state.sessionID == next)
    }

    /// The schema sets `last_seen_ms` after every event, `launch` included, so a clock set back while the app was
    /// not running is not seen by the `foreground` that follows: the session goes on (the vectors pin the in-process
    /// case). schema/CHANGES-PROPOSED.md proposes that `launch` keep the larger `last_seen_ms`.
    @Test func aClockSetBackWhileTheAppWasKilledIsNotARegressionUnderTheSchemaAsWritten() throws {
        let folder = TemporaryFolder("stitch-restart")
        let first = try ProbeProcess.sessionThenKill(stateDirectory: folder.url, wallMillis: t0, event: "foreground")
        let back = try ProbeProcess.sessionThenKill(
            stateDirectory: folder.url, wallMillis: t0 - 90 * minute, event: "foreground")
        #expect(back == first)
        let state = try #require(try FileSessionStore(directory: folder.url).load())
        #expect(state.lastSeenMs == t0 - 90 * minute)
    }

    @Test func aCorruptStateFileStartsAFreshSessionInsteadOfCrashing() throws {
        let folder = TemporaryFolder("stitch-restart")
        let first = try ProbeProcess.sessionThenKill(stateDirectory: folder.url, wallMillis: t0, event: "foreground")
        let file = FileSessionStore(directory: folder.url).url
        let bytes = try Data(contentsOf: file)
        try bytes.prefix(bytes.count / 2).write(to: file)
        let next = try ProbeProcess.sessionThenKill(
            stateDirectory: folder.url, wallMillis: t0 + minute, event: "foreground")
        #expect(next != first)
        #expect(try FileSessionStore(directory: folder.url).load()?.sessionID == next)
    }
}

/// Inside one process the schema sees a clock set back: the next item starts a new session (`clock_regression`),
/// and the wire says so.
@Suite(.enabled(if: OTLPReceiver.testsEnabled, "needs python3 with opentelemetry-proto (CI installs it)"))
struct ClockRegressionTests {
    @Test func aClockSetBackRotatesTheSessionWithItsReason() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let e = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted)
        e.stitch.handle(.foreground)
        e.stitch.action("tap.home") { _ in }
        let before = try #require(e.stitch.currentSessionID)
        e.clock.setWall(millis: e.clock.now().wallMillis - 3_600_000)
        e.stitch.action("tap.home") { _ in }
        let after = try #require(e.stitch.currentSessionID)
        #expect(after != before)
        #expect(e.stitch.flush(timeout: 10))
        let starts = try receiver.received().logRecords.filter { $0.record.eventName == SchemaEvent.sessionStart }
        let last = try #require(starts.last)
        #expect(last.sessionID == after)
        #expect(last.attributes.string(SchemaAttribute.stitchSessionStartReason) == "clock_regression")
        #expect(last.attributes.string(SchemaAttribute.sessionPreviousID) == before)
        e.stitch.shutdown()
    }
}
