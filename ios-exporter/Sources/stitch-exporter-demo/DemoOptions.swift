import Foundation

/// The demo's command line.
struct DemoOptions {
    var endpoint: URL?
    var appBackend: URL?
    var thirdParty: URL?
    var sessions = 3
    var seed: UInt64?
    var stateDirectory: URL?
    var outDirectory: URL?
    var flushOnly = false

    static let usage = """
        usage: stitch-exporter-demo [options]

        A simulated app journey through the real Stitch exporter. With no options it starts its own loopback app
        backend and OTLP receiver and needs nothing else.

          --endpoint URL       send OTLP/HTTP here (e.g. http://127.0.0.1:4318) instead of the built-in receiver
          --app-backend URL    where the journey's allow-listed requests go (default: a built-in loopback backend)
          --third-party URL    a host not on the allow-list (default: a second built-in loopback server)
          --sessions N         sessions to run, 1...50 (default 3)
          --seed S             seed the trace, span and session IDs (repeatable runs)
          --state-dir DIR      the exporter's folder (default: a new temporary folder)
          --out DIR            write every payload as sent, plus manifest.json
          --flush-only         deliver the batches waiting in --state-dir, then exit (0 when none is left)
          --help               this text
        """

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ args: [String]) throws -> DemoOptions {
        var o = DemoOptions()
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError(description: "\(flag) needs a value") }
            return args[i]
        }
        func url(_ flag: String) throws -> URL {
            let v = try value(flag)
            guard let u = URL(string: v), let s = u.scheme, s == "http" || s == "https", u.host != nil else {
                throw UsageError(description: "\(flag): \"\(v)\" is not an http(s) URL")
            }
            return u
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--endpoint": o.endpoint = try url(a)
            case "--app-backend": o.appBackend = try url(a)
            case "--third-party": o.thirdParty = try url(a)
            case "--sessions":
                let v = try value(a)
                guard let n = Int(v), (1...50).contains(n) else {
                    throw UsageError(description: "--sessions: \"\(v)\" is not a number in 1...50")
                }
                o.sessions = n
            case "--seed":
                let v = try value(a)
                guard let s = UInt64(v) else { throw UsageError(description: "--seed: \"\(v)\" is not a number") }
                o.seed = s
            case "--state-dir": o.stateDirectory = URL(fileURLWithPath: try value(a), isDirectory: true)
            case "--out": o.outDirectory = URL(fileURLWithPath: try value(a), isDirectory: true)
            case "--flush-only": o.flushOnly = true
            case "--help", "-h": throw UsageError(description: "")
            default: throw UsageError(description: "unknown option \(a)")
            }
            i += 1
        }
        if o.flushOnly, o.stateDirectory == nil {
            throw UsageError(description: "--flush-only needs --state-dir (the folder whose batches to deliver)")
        }
        return o
    }
}
