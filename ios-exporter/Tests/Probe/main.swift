import Foundation
import StitchExporter
import StitchTestSupport

// A stand-in app process for the restart tests: it starts the exporter on a state folder at a wall time the test
// chooses, feeds one lifecycle event, reports the session it is in once that state is on disk, then waits to be
// killed (it exits by itself after 60 s, so a failed test leaves nothing running).
//
//   stitch-exporter-probe --state-dir DIR --wall-ms MILLIS [--event foreground|background|tick|none]
// prints `SESSION <id>` and then `READY`.

func argument(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("stitch-exporter-probe: \(message)\n".utf8))
    exit(2)
}

guard let stateDir = argument("--state-dir") else { fail("--state-dir DIR is required") }
guard let wallText = argument("--wall-ms"), let wallMillis = Int64(wallText) else {
    fail("--wall-ms MILLIS is required")
}
let event = argument("--event") ?? "foreground"

let configuration = Configuration(
    // Nothing is sent: consent stays pending, and port 9 (discard) is never contacted.
    endpoint: URL(string: "http://127.0.0.1:9")!, serviceName: "com.example.probe", serviceVersion: "1.0.0",
    hmacKeyProvider: StaticHMACKey(Array(repeating: 7, count: 32)), consent: .pending,
    stateDirectory: URL(fileURLWithPath: stateDir, isDirectory: true), maxBatchDelay: 3600,
    platform: Configuration.Platform(
        clock: ManualClock(wallMillis: wallMillis), network: NetworkDouble(), ids: RandomIDGenerator()))
let stitch: StitchInstance
do {
    stitch = try StitchInstance(configuration: configuration)
} catch {
    fail("\(error)")
}
switch event {
case "foreground": stitch.handle(.foreground)
case "background": stitch.handle(.background)
case "tick": stitch.handle(.inactive)
case "none": break
default: fail("unknown --event \(event)")
}
// Waits for the session state to reach the disk (and tries no upload: consent is pending).
stitch.flush(timeout: 5)
// Written straight to the pipe (no stdio buffering), so the test reads it before it kills the process.
FileHandle.standardOutput.write(Data("SESSION \(stitch.currentSessionID ?? "-")\nREADY\n".utf8))
Thread.sleep(forTimeInterval: 60)
exit(3)
