import Foundation
import StitchExporter
import StitchOTLP
import StitchTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

// The demo key: a real app fetches its pseudonymisation key from its backend or the keychain.
let demoKey = Array("stitch-demo-pseudonymisation-key-32+bytes".utf8)

let options: DemoOptions
do {
    options = try DemoOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch let e as DemoOptions.UsageError {
    if !e.description.isEmpty { FileHandle.standardError.write(Data("error: \(e.description)\n\n".utf8)) }
    print(DemoOptions.usage)
    exit(e.description.isEmpty ? 0 : 2)
}

let exitCode = await DemoRun(options: options, key: demoKey).run()
exit(exitCode)
