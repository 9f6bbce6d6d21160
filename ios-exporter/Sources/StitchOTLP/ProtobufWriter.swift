/// Protobuf wire types the OTLP messages use (groups are never written).
public enum ProtobufWireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

/// Where a nested message's length prefix was reserved, so `endMessage` can patch it in place.
public struct ProtobufNestedMark: Sendable {
    fileprivate let lengthOffset: Int
    fileprivate let reservedLengthBytes: Int
}

/// A minimal protobuf encoder writing into one growing byte buffer.
///
/// Nested messages reserve their length prefix and patch it once the body is written, so every byte is encoded
/// exactly once; only a length whose varint size differs from the reservation moves the body (a single `memmove`).
/// The writer never inspects or validates what it is given: choosing fields and omitting proto3 defaults is the
/// caller's job.
public struct ProtobufWriter: Sendable {
    /// The encoded message so far.
    public private(set) var bytes: [UInt8]

    /// `capacity` is a size hint so large batches grow the buffer once instead of doubling repeatedly.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(max(0, capacity))
    }

    /// Bytes written so far.
    @inlinable public var count: Int { bytes.count }

    // MARK: Scalars

    /// Base-128 varint, the encoding of every integer, enum and bool field.
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    /// The key that precedes every field.
    public mutating func writeTag(field: UInt32, wireType: ProtobufWireType) {
        writeVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    /// Little-endian 4 bytes, as `fixed32` fields are laid out.
    public mutating func writeFixed32(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
    }

    /// Little-endian 8 bytes, as `fixed64` and `double` fields are laid out.
    public mutating func writeFixed64(_ value: UInt64) {
        var v = value
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    // MARK: Fields

    /// A varint field (`uint64`, `enum`, `bool`).
    public mutating func writeVarintField(_ field: UInt32, _ value: UInt64) {
        writeTag(field: field, wireType: .varint)
        writeVarint(value)
    }

    /// An `int64`/`int32` field: negative values are sign-extended to ten bytes, as protobuf requires.
    public mutating func writeInt64Field(_ field: UInt32, _ value: Int64) {
        writeVarintField(field, UInt64(bitPattern: value))
    }

    /// A `bool` field.
    public mutating func writeBoolField(_ field: UInt32, _ value: Bool) {
        writeVarintField(field, value ? 1 : 0)
    }

    /// A `fixed32` field.
    public mutating func writeFixed32Field(_ field: UInt32, _ value: UInt32) {
        writeTag(field: field, wireType: .fixed32)
        writeFixed32(value)
    }

    /// A `fixed64` field.
    public mutating func writeFixed64Field(_ field: UInt32, _ value: UInt64) {
        writeTag(field: field, wireType: .fixed64)
        writeFixed64(value)
    }

    /// A `double` field, as its IEEE 754 bit pattern.
    public mutating func writeDoubleField(_ field: UInt32, _ value: Double) {
        writeFixed64Field(field, value.bitPattern)
    }

    /// A `string` field; the text goes out as its UTF-8 bytes without copying through an intermediate array.
    public mutating func writeStringField(_ field: UInt32, _ value: String) {
        var text = value
        writeTag(field: field, wireType: .lengthDelimited)
        text.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// A `bytes` field.
    public mutating func writeBytesField(_ field: UInt32, _ value: [UInt8]) {
        writeTag(field: field, wireType: .lengthDelimited)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A `bytes` field holding a big-endian 64-bit value (span-ids).
    public mutating func writeBigEndianBytesField(_ field: UInt32, _ value: UInt64) {
        writeTag(field: field, wireType: .lengthDelimited)
        bytes.append(8)
        appendBigEndian(value)
    }

    /// A `bytes` field holding two big-endian 64-bit values, high first (trace-ids).
    public mutating func writeBigEndianBytesField(_ field: UInt32, high: UInt64, low: UInt64) {
        writeTag(field: field, wireType: .lengthDelimited)
        bytes.append(16)
        appendBigEndian(high)
        appendBigEndian(low)
    }

    private mutating func appendBigEndian(_ value: UInt64) {
        var shift: UInt64 = 56
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
            shift &-= 8
        }
    }

    // MARK: Nested messages

    /// Starts a length-delimited sub-message; pair with `endMessage`.
    ///
    /// `expectedLengthBytes` (1...5) is how many bytes the length prefix is likely to need: a good guess (1 for an
    /// attribute, 2 for a span, 3–4 for a whole batch) avoids moving the body afterwards; a wrong one costs only a move.
    public mutating func beginMessage(_ field: UInt32, expectedLengthBytes: Int = 1) -> ProtobufNestedMark {
        writeTag(field: field, wireType: .lengthDelimited)
        let reserved = min(max(expectedLengthBytes, 1), 5)
        let mark = ProtobufNestedMark(lengthOffset: bytes.count, reservedLengthBytes: reserved)
        for _ in 0..<reserved { bytes.append(0) }
        return mark
    }

    /// Finishes the sub-message started by `mark`, writing its length prefix.
    public mutating func endMessage(_ mark: ProtobufNestedMark) {
        let bodyStart = mark.lengthOffset + mark.reservedLengthBytes
        let length = bytes.count - bodyStart
        let needed = ProtobufWriter.varintSize(UInt64(length))
        if needed != mark.reservedLengthBytes {
            moveBody(from: bodyStart, length: length, to: mark.lengthOffset + needed)
        }
        var v = UInt64(length)
        var offset = mark.lengthOffset
        while v >= 0x80 {
            bytes[offset] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            offset += 1
        }
        bytes[offset] = UInt8(truncatingIfNeeded: v)
    }

    private mutating func moveBody(from source: Int, length: Int, to destination: Int) {
        if destination > source {
            bytes.append(contentsOf: repeatElement(0, count: destination - source))
        }
        bytes.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress, length > 0 else { return }
            (base + destination).copyMemory(from: base + source, byteCount: length)
        }
        if destination < source {
            bytes.removeLast(source - destination)
        }
    }

    /// How many bytes `value` takes as a varint (1...10).
    @inlinable public static func varintSize(_ value: UInt64) -> Int {
        // Each byte carries 7 bits; `| 1` makes zero take one byte.
        let bits = 64 - (value | 1).leadingZeroBitCount
        return (bits + 6) / 7
    }
}
