import Foundation
import StitchSchema

/// Keeps the session state across process restarts, so a session survives a relaunch inside its window.
public protocol SessionStore: Sendable {
    /// The persisted state; nil on a fresh install. A malformed file is reported by throwing, and the caller
    /// starts afresh.
    func load() throws -> SessionState?
    func save(_ state: SessionState) throws
}

/// The session state as a small JSON file (the schema's `persisted_state` keys), written atomically.
public struct FileSessionStore: SessionStore {
    public let url: URL

    public init(directory: URL) {
        self.url = directory.appendingPathComponent("session.json")
    }

    public func load() throws -> SessionState? {
        guard let bytes = try AtomicFile.read(url, maxBytes: 64 * 1024) else { return nil }
        return try JSONDecoder().decode(SessionState.self, from: Data(bytes))
    }

    public func save(_ state: SessionState) throws {
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(state)), to: url)
    }
}

/// Keeps nothing: every launch is a fresh install. For previews and tests that want no files.
public final class InMemorySessionStore: SessionStore, @unchecked Sendable {
    private let state = Locked<SessionState?>(nil)

    public init(_ initial: SessionState? = nil) { state.withLock { $0 = initial } }

    public func load() throws -> SessionState? { state.current }

    public func save(_ newState: SessionState) throws { state.withLock { $0 = newState } }
}
