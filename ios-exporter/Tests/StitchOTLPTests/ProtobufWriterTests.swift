import StitchOTLP
import Testing

@Suite("ProtobufWriter")
struct ProtobufWriterTests {
    private func varint(_ value: UInt64) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.writeVarint(value)
        return writer.bytes
    }

    @Test(
        "varint edge cases",
        arguments: ProtobufWriterTests.varintCases)
    func varintEncoding(value: UInt64, expected: [UInt8]) {
        #expect(varint(value) == expected)
        #expect(ProtobufWriter.varintSize(value) == expected.count)
    }

    static let varintCases: [(UInt64, [UInt8])] = [
        (UInt64(0), [UInt8]([0x00])),
        (1, [0x01]),
        (127, [0x7F]),
        (128, [0x80, 0x01]),
        (300, [0xAC, 0x02]),
        (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]),
        (UInt64(UInt32.max), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        (1 << 63, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        (UInt64.max, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    ]

    @Test("varintSize matches the encoding at every 7-bit boundary")
    func varintSizeBoundaries() {
        for bits in 0..<64 {
            let value = UInt64(1) << UInt64(bits)
            #expect(ProtobufWriter.varintSize(value) == varint(value).count, "2^\(bits)")
            #expect(ProtobufWriter.varintSize(value - 1) == varint(value - 1).count, "2^\(bits) - 1")
        }
    }

    @Test("negative int64 is sign-extended to ten bytes")
    func negativeInt64() {
        var writer = ProtobufWriter()
        writer.writeInt64Field(3, -1)
        #expect(writer.bytes == [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        var minimum = ProtobufWriter()
        minimum.writeInt64Field(3, Int64.min)
        #expect(minimum.bytes == [0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
    }

    @Test("tags combine field number and wire type, multi-byte above field 15")
    func tags() {
        var writer = ProtobufWriter()
        writer.writeTag(field: 1, wireType: .varint)
        writer.writeTag(field: 15, wireType: .lengthDelimited)
        writer.writeTag(field: 16, wireType: .fixed32)
        writer.writeTag(field: 2047, wireType: .fixed64)
        #expect(writer.bytes == [0x08, 0x7A, 0x85, 0x01, 0xF9, 0x7F])
    }

    @Test("fixed-width fields are little-endian")
    func fixedWidth() {
        var writer = ProtobufWriter()
        writer.writeFixed32Field(16, 0x0403_0201)
        writer.writeFixed64Field(7, 0x0807_0605_0403_0201)
        writer.writeDoubleField(4, 1.0)
        #expect(
            writer.bytes == [
                0x85, 0x01, 0x01, 0x02, 0x03, 0x04,
                0x39, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F,
            ])
    }

    @Test("strings are written as UTF-8 with a byte-length prefix")
    func strings() {
        var writer = ProtobufWriter()
        writer.writeStringField(1, "é✓")
        writer.writeStringField(2, "")
        #expect(writer.bytes == [0x0A, 0x05, 0xC3, 0xA9, 0xE2, 0x9C, 0x93, 0x12, 0x00])
    }

    @Test("a bridged or non-contiguous string encodes the same as a native one")
    func substringText() {
        let text = String("xx-héllo-xx".dropFirst(3).dropLast(3))
        var writer = ProtobufWriter()
        writer.writeStringField(1, text)
        #expect(writer.bytes == [0x0A, 0x06] + Array("héllo".utf8))
    }

    @Test("ids are big-endian bytes fields")
    func ids() {
        var writer = ProtobufWriter()
        writer.writeBigEndianBytesField(2, 0x0102_0304_0506_0708)
        writer.writeBigEndianBytesField(1, high: 0x1112_1314_1516_1718, low: 0x2122_2324_2526_2728)
        #expect(
            writer.bytes == [0x12, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]
                + [0x0A, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]
                + [0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28])
        var bytesField = ProtobufWriter()
        bytesField.writeBytesField(7, [0xFF, 0x00])
        #expect(bytesField.bytes == [0x3A, 0x02, 0xFF, 0x00])
    }

    @Test("bools")
    func bools() {
        var writer = ProtobufWriter()
        writer.writeBoolField(2, true)
        writer.writeBoolField(2, false)
        #expect(writer.bytes == [0x10, 0x01, 0x10, 0x00])
    }

    /// Writes a nested message with `bodyLength` bytes of body, reserving `reserve` bytes for its length.
    private func nested(bodyLength: Int, reserve: Int) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.writeVarintField(1, 7)
        let mark = writer.beginMessage(2, expectedLengthBytes: reserve)
        for i in 0..<bodyLength { writer.writeVarint(UInt64(i % 100)) }
        writer.endMessage(mark)
        writer.writeVarintField(3, 9)
        return writer.bytes
    }

    /// What a nested message must look like, built without back-patching.
    private func expectedNested(bodyLength: Int) -> [UInt8] {
        var body = ProtobufWriter()
        for i in 0..<bodyLength { body.writeVarint(UInt64(i % 100)) }
        var writer = ProtobufWriter()
        writer.writeVarintField(1, 7)
        writer.writeTag(field: 2, wireType: .lengthDelimited)
        writer.writeVarint(UInt64(body.count))
        return writer.bytes + body.bytes + [0x18, 0x09]
    }

    @Test(
        "nested length is patched whatever was reserved",
        arguments: [0, 1, 127, 128, 300, 16_383, 16_384, 70_000], [1, 2, 3, 5])
    func nestedLengths(bodyLength: Int, reserve: Int) {
        #expect(nested(bodyLength: bodyLength, reserve: reserve) == expectedNested(bodyLength: bodyLength))
    }

    @Test("out-of-range reservations are clamped, not trusted")
    func reservationClamped() {
        #expect(nested(bodyLength: 200, reserve: 0) == expectedNested(bodyLength: 200))
        #expect(nested(bodyLength: 200, reserve: 99) == expectedNested(bodyLength: 200))
    }

    @Test("deeply nested messages patch inner before outer")
    func deepNesting() {
        var writer = ProtobufWriter()
        var marks: [ProtobufNestedMark] = []
        for _ in 0..<40 { marks.append(writer.beginMessage(1)) }
        writer.writeStringField(2, String(repeating: "x", count: 200))
        for mark in marks.reversed() { writer.endMessage(mark) }

        // Rebuild inside-out with explicit lengths.
        var expected: [UInt8] = [0x12, 0xC8, 0x01] + Array(repeating: UInt8(ascii: "x"), count: 200)
        for _ in 0..<40 {
            var level = ProtobufWriter()
            level.writeBytesField(1, expected)
            expected = level.bytes
        }
        #expect(writer.bytes == expected)
    }

    @Test("capacity is only a hint")
    func capacityHint() {
        var writer = ProtobufWriter(capacity: -5)
        writer.writeVarint(1)
        #expect(writer.bytes == [1])
        #expect(ProtobufWriter(capacity: 1 << 16).count == 0)
    }
}
