/// Walks the fields of one protobuf message within a byte range, without copying.
struct ProtobufFieldReader {
    enum Value {
        case varint(UInt64)
        case lengthDelimited(Range<Int>)
        case fixed(Int)
    }

    struct Field {
        var number: UInt64
        var value: Value
    }

    private let bytes: [UInt8]
    private var offset: Int
    private let end: Int

    init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        offset = range.lowerBound
        end = range.upperBound
    }

    /// The next field, or nil at the end of the range.
    mutating func next() throws(OTLPResponseDecodingError) -> Field? {
        guard offset < end else { return nil }
        let fieldStart = offset
        let key = try readVarint(fieldStart: fieldStart)
        let number = key >> 3
        guard number != 0, number <= 0x1FFF_FFFF else { throw .invalidKey(offset: fieldStart) }
        switch key & 7 {
        case 0:
            return Field(number: number, value: .varint(try readVarint(fieldStart: fieldStart)))
        case 1:
            return Field(number: number, value: .fixed(try skip(8, fieldStart: fieldStart)))
        case 2:
            let length = try readVarint(fieldStart: fieldStart)
            guard length <= UInt64(end - offset) else { throw .truncated(offset: fieldStart) }
            let start = offset
            offset += Int(length)
            return Field(number: number, value: .lengthDelimited(start..<offset))
        case 5:
            return Field(number: number, value: .fixed(try skip(4, fieldStart: fieldStart)))
        default:
            throw .invalidKey(offset: fieldStart)
        }
    }

    private mutating func skip(_ count: Int, fieldStart: Int) throws(OTLPResponseDecodingError) -> Int {
        guard end - offset >= count else { throw .truncated(offset: fieldStart) }
        let start = offset
        offset += count
        return start
    }

    private mutating func readVarint(fieldStart: Int) throws(OTLPResponseDecodingError) -> UInt64 {
        let varintStart = offset
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw .truncated(offset: fieldStart) }
            let byte = bytes[offset]
            offset += 1
            // The tenth byte may only carry the 64th bit.
            if shift == 63 && byte > 1 { throw .malformedVarint(offset: varintStart) }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { throw .malformedVarint(offset: varintStart) }
        }
    }
}
