import StitchOTLP

/// One persisted batch: a small header and the OTLP request body exactly as it will be uploaded (protobuf,
/// gzip'd — compressed once, when the batch is cut, so the folder holds about a fifth of the raw size and an upload
/// reads and sends the bytes untouched).
///
/// Layout (little-endian): magic `STB1` · version (1) · signal (0 traces, 1 logs) · flags (bit 0 important,
/// bit 1 already split after a 413) · reserved (0) · item count (u32) · created wall time in ms (i64) · payload
/// length (u32) · CRC-32 of the header's first 24 bytes and the payload (u32) · payload. Decoding checks every field and the checksum, so a file cut
/// short by a kill, written by something else, or damaged on disk is refused with a reason — never trusted.
struct BatchRecord: Sendable, Equatable {
    enum Signal: UInt8, Sendable {
        case traces = 0
        case logs = 1

        var upload: UploadPolicy.Signal { self == .traces ? .traces : .logs }
    }

    enum DecodeError: Error, Equatable {
        case tooShort(Int)
        case badMagic
        case unsupportedVersion(UInt8)
        case badSignal(UInt8)
        case badFlags(UInt8)
        case lengthMismatch(declared: UInt32, actual: Int)
        case checksumMismatch
    }

    static let magic: [UInt8] = Array("STB1".utf8)
    static let version: UInt8 = 1
    static let headerBytes = 28

    var signal: Signal
    var important: Bool
    /// The halves of a batch a receiver refused as too large: a second 413 drops them.
    var split: Bool
    var itemCount: Int
    var createdMs: Int64
    /// The OTLP/HTTP body, gzip'd.
    var payload: [UInt8]

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.headerBytes + payload.count)
        out += Self.magic
        out.append(Self.version)
        out.append(signal.rawValue)
        out.append((important ? 1 : 0) | (split ? 2 : 0))
        out.append(0)
        Self.append(UInt32(clamping: itemCount), to: &out)
        Self.append(UInt64(bitPattern: createdMs), to: &out)
        Self.append(UInt32(clamping: payload.count), to: &out)
        Self.append(CRC32.checksum(out + payload), to: &out)
        out += payload
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeError) -> BatchRecord {
        guard bytes.count >= headerBytes else { throw .tooShort(bytes.count) }
        guard Array(bytes[0..<4]) == magic else { throw .badMagic }
        guard bytes[4] == version else { throw .unsupportedVersion(bytes[4]) }
        guard let signal = Signal(rawValue: bytes[5]) else { throw .badSignal(bytes[5]) }
        guard bytes[6] & ~0b11 == 0, bytes[7] == 0 else { throw .badFlags(bytes[6]) }
        let count = readUInt32(bytes, at: 8)
        let created = Int64(bitPattern: readUInt64(bytes, at: 12))
        let length = readUInt32(bytes, at: 20)
        let checksum = readUInt32(bytes, at: 24)
        guard Int(length) == bytes.count - headerBytes else {
            throw .lengthMismatch(declared: length, actual: bytes.count - headerBytes)
        }
        let payload = Array(bytes[headerBytes...])
        guard CRC32.checksum(Array(bytes[0..<24]) + payload) == checksum else { throw .checksumMismatch }
        return BatchRecord(
            signal: signal, important: bytes[6] & 1 != 0, split: bytes[6] & 2 != 0, itemCount: Int(count),
            createdMs: created, payload: payload)
    }

    private static func append(_ v: UInt32, to out: inout [UInt8]) {
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }

    private static func append(_ v: UInt64, to out: inout [UInt8]) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    private static func readUInt32(_ b: [UInt8], at o: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) }
    }

    private static func readUInt64(_ b: [UInt8], at o: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) }
    }
}
