import Foundation

/// What the resource says about the device: the schema's `os.name`, `os.version` and `device.model.identifier`.
public struct DeviceInfo: Sendable, Equatable {
    public var osName: String
    public var osVersion: String
    /// The hardware model identifier (`utsname.machine`, e.g. `iPhone15,2`), never the user-given device name.
    public var modelIdentifier: String

    public init(osName: String, osVersion: String, modelIdentifier: String) {
        self.osName = osName
        self.osVersion = osVersion
        self.modelIdentifier = modelIdentifier
    }

    /// Read from the running system.
    public static var current: DeviceInfo {
        let v = ProcessInfo.processInfo.operatingSystemVersion
        var version = "\(v.majorVersion).\(v.minorVersion)"
        if v.patchVersion > 0 { version += ".\(v.patchVersion)" }
        return DeviceInfo(osName: platformName, osVersion: version, modelIdentifier: machine())
    }

    private static var platformName: String {
        #if os(iOS)
            return "iOS"
        #elseif os(macOS)
            return "macOS"
        #elseif os(tvOS)
            return "tvOS"
        #elseif os(watchOS)
            return "watchOS"
        #elseif os(Linux)
            return "Linux"
        #else
            return "unknown"
        #endif
    }

    /// `uname().machine`: on a phone the model identifier, on a simulator or a Linux host the CPU (e.g. `x86_64`).
    private static func machine() -> String {
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        let raw = withUnsafeBytes(of: &u.machine) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        // The schema allows [A-Za-z0-9_] and one ",N"; anything else would be dropped, so map it.
        let mapped = raw.unicodeScalars.map { c -> Character in
            (c.isASCII && (CharacterSet.alphanumerics.contains(c) || c == "_" || c == ",")) ? Character(c) : "_"
        }
        return mapped.isEmpty ? "unknown" : String(mapped)
    }
}
