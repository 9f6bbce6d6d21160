import StitchSchema
import Testing

/// SHA-256 against FIPS 180-4 / NIST examples and block-boundary lengths, HMAC-SHA-256 against RFC 4231.
/// Expected digests that are not published examples were computed with Python's `hashlib` and `hmac`.
@Suite struct HMACSHA256Tests {
    struct DigestCase: Sendable, CustomTestStringConvertible {
        let name: String
        let message: [UInt8]
        let digest: String
        var testDescription: String { name }
    }

    /// Deterministic, non-repeating-looking bytes for the boundary lengths: byte i is (7i + 3) mod 256.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    }

    static let digestCases: [DigestCase] = [
        DigestCase(
            name: "empty", message: [],
            digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        DigestCase(
            name: "abc", message: Array("abc".utf8),
            digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        DigestCase(
            name: "448-bit", message: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
            digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        DigestCase(
            name: "896-bit",
            message: Array(
                ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                    + "mnopqrstnopqrstu").utf8),
            digest: "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        DigestCase(
            name: "55 bytes (padding fits one block)", message: pattern(55),
            digest: "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
        DigestCase(
            name: "56 bytes (padding needs a second block)", message: pattern(56),
            digest: "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
        DigestCase(
            name: "63 bytes", message: pattern(63),
            digest: "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
        DigestCase(
            name: "64 bytes (one full block)", message: pattern(64),
            digest: "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
        DigestCase(
            name: "65 bytes", message: pattern(65),
            digest: "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
        DigestCase(
            name: "119 bytes", message: pattern(119),
            digest: "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
        DigestCase(
            name: "120 bytes", message: pattern(120),
            digest: "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
        DigestCase(
            name: "128 bytes (two full blocks)", message: pattern(128),
            digest: "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"),
    ]

    @Test(arguments: digestCases)
    func sha256OfWholeMessage(_ testCase: DigestCase) {
        #expect(hex(SHA256.hash(testCase.message)) == testCase.digest)
    }

    /// Every split point of every message, fed as two updates, gives the one-shot digest; the second half goes
    /// through the byte-by-byte path (a lazy sequence has no contiguous storage).
    @Test(arguments: digestCases)
    func sha256IsIndependentOfHowTheMessageIsSplit(_ testCase: DigestCase) {
        for split in 0...testCase.message.count {
            var hasher = SHA256()
            hasher.update(testCase.message[..<split])
            hasher.update(testCase.message[split...].lazy.map { $0 })
            #expect(hex(hasher.finalize()) == testCase.digest, "split at \(split)")
        }
    }

    @Test func sha256OfOneMillionA() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func finalizeResetsTheHasherForANewMessage() {
        var hasher = SHA256()
        hasher.update(Array("not this".utf8))
        _ = hasher.finalize()
        hasher.update(Array("abc".utf8))
        #expect(hex(hasher.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    struct MACCase: Sendable, CustomTestStringConvertible {
        let name: String
        let key: [UInt8]
        let message: [UInt8]
        /// Hex; a shorter value is a truncated tag (RFC 4231 case 5 publishes 128 bits).
        let tag: String
        var testDescription: String { name }
    }

    static let rfc4231Cases: [MACCase] = [
        MACCase(
            name: "RFC 4231 case 1", key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8),
            tag: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        MACCase(
            name: "RFC 4231 case 2 (key shorter than the output)", key: Array("Jefe".utf8),
            message: Array("what do ya want for nothing?".utf8),
            tag: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        MACCase(
            name: "RFC 4231 case 3", key: [UInt8](repeating: 0xaa, count: 20),
            message: [UInt8](repeating: 0xdd, count: 50),
            tag: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        MACCase(
            name: "RFC 4231 case 4", key: Array(1...25), message: [UInt8](repeating: 0xcd, count: 50),
            tag: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        MACCase(
            name: "RFC 4231 case 5 (truncated to 128 bits)", key: [UInt8](repeating: 0x0c, count: 20),
            message: Array("Test With Truncation".utf8), tag: "a3b6167473100ee06e0c796c2955552b"),
        MACCase(
            name: "RFC 4231 case 6 (131-byte key)", key: [UInt8](repeating: 0xaa, count: 131),
            message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            tag: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        MACCase(
            name: "RFC 4231 case 7 (131-byte key, long data)", key: [UInt8](repeating: 0xaa, count: 131),
            message: Array(
                ("This is a test using a larger than block-size key and a larger than block-size data. The key needs "
                    + "to be hashed before being used by the HMAC algorithm.").utf8),
            tag: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        MACCase(
            name: "64-byte key (exactly one block, not hashed)", key: Array(0..<64), message: Array("msg".utf8),
            tag: "a5347accf12c5c3edf87ddb44e5b3a1c6957591c7092e527c2e63a5e48f8ebc5"),
        MACCase(
            name: "empty key", key: [], message: Array("msg".utf8),
            tag: "5f576a8d68fe4fb7eb823227246353c0870c3b0e878997341db1226b4bd88d61"),
    ]

    @Test(arguments: rfc4231Cases)
    func hmacMatchesReference(_ testCase: MACCase) {
        let tag = HMACSHA256.authenticate(message: testCase.message, key: testCase.key)
        #expect(tag.count == 32)
        #expect(hex(tag).hasPrefix(testCase.tag))
    }

    @Test func pseudonymousIDChecksTheKeyBeforeTheIdentifier() {
        #expect(PseudonymousID.hash("", key: [UInt8](repeating: 1, count: 31)) == .failure(.weakKey))
        #expect(PseudonymousID.hash("", key: [UInt8](repeating: 1, count: 32)) == .failure(.empty))
    }

    @Test func pseudonymousIDIsTheLowercaseHexOfTheTag() throws {
        let key = [UInt8](repeating: 0xaa, count: 131)
        let message = "Test Using Larger Than Block-Size Key - Hash Key First"
        let hash = try PseudonymousID.hash(message, key: key).get()
        #expect(hash == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
