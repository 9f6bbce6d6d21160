import Foundation
import StitchSchema
import Testing

@Suite struct SessionRotationTests {
    static let first = "a1000000000000000000000000000001"
    static let second = "a2000000000000000000000000000002"

    @Test func persistedJSONUsesSchemaKeysAndWritesNulls() throws {
        let state = SessionState(
            sessionID: Self.first, previousID: nil, startedAtMs: 5, backgroundSinceMs: nil, lastSeenMs: 7,
            foreground: true)
        let data = try JSONEncoder().encode(state)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == Set(SessionRules.persistedState))
        #expect(object["previous_id"] is NSNull)
        #expect(object["background_since_ms"] is NSNull)
        #expect(try JSONDecoder().decode(SessionState.self, from: data) == state)
    }

    @Test func corruptedPersistedIDIsRejected() {
        let json = """
            {"session_id":"A1000000000000000000000000000001","previous_id":null,"started_at_ms":0,
             "background_since_ms":null,"last_seen_ms":0,"foreground":false}
            """
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SessionState.self, from: Data(json.utf8)) }
    }

    @Test func rotationReportsTheEndedSession() throws {
        let started = try SessionRotation.apply(.foreground, atMs: 0, to: nil, newID: { Self.first }).get()
        #expect(started.startedSession && started.reason == .first && started.endedSessionID == nil)
        let background = try SessionRotation.apply(.background, atMs: 1000, to: started.state, newID: { nil }).get()
        let rotated = try SessionRotation.apply(
            .foreground, atMs: 1000 + SessionRules.backgroundTimeoutMs, to: background.state, newID: { Self.second }
        ).get()
        #expect(rotated.reason == .backgroundTimeout)
        #expect(rotated.endedSessionID == Self.first)
        #expect(rotated.state?.previousID == Self.first)
        #expect(rotated.state?.foreground == true && rotated.state?.backgroundSinceMs == nil)
    }

    @Test func newIDIsOnlyAskedForWhenASessionStarts() throws {
        var calls = 0
        let state = SessionState(
            sessionID: Self.first, previousID: nil, startedAtMs: 0, backgroundSinceMs: nil, lastSeenMs: 0,
            foreground: true)
        for kind in LifecycleEventKind.allCases {
            _ = SessionRotation.apply(kind, atMs: 10, to: state) {
                calls += 1
                return Self.second
            }
        }
        #expect(calls == 0)
    }

    @Test func failedEventsReturnTheCode() {
        #expect(SessionRotation.apply(.foreground, atMs: 0, to: nil, newID: { nil }) == .failure(.idsExhausted))
        #expect(SessionRotation.apply(.push, atMs: 0, to: nil, newID: { "0" }) == .failure(.badSessionID))
    }

    @Test func extremeTimesDoNotOverflow() throws {
        let old = SessionState(
            sessionID: Self.first, previousID: nil, startedAtMs: .min, backgroundSinceMs: .min, lastSeenMs: .min,
            foreground: true)
        let late = try SessionRotation.apply(.tick, atMs: .max, to: old, newID: { Self.second }).get()
        #expect(late.reason == .maxDuration)
        let future = SessionState(
            sessionID: Self.first, previousID: nil, startedAtMs: .max, backgroundSinceMs: nil, lastSeenMs: .max,
            foreground: true)
        let early = try SessionRotation.apply(.tick, atMs: .min, to: future, newID: { Self.second }).get()
        #expect(early.reason == .clockRegression)
    }
}
