/// SHA-256 (FIPS 180-4), incremental.
///
/// Written here because the schema needs HMAC-SHA-256 on Linux and Apple platforms alike, and CryptoKit is
/// Apple-only. Works on 32-bit words and plain byte arrays; no Foundation.
public struct SHA256: Sendable {
    /// The digest length in bytes.
    public static let digestByteCount = 32
    /// The block length in bytes; HMAC pads its key to this size.
    public static let blockByteCount = 64

    private static let initialState: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]

    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    private var state: [UInt32]
    /// Bytes of the current, not yet full block.
    private var pending: [UInt8]
    /// The message schedule, kept between blocks so that compressing allocates nothing.
    private var schedule: [UInt32]
    /// Message length in bytes so far, modulo 2^64 (the padding holds the length in bits modulo 2^64).
    private var byteCount: UInt64 = 0

    /// A hasher for a new, empty message.
    public init() {
        state = Self.initialState
        pending = []
        pending.reserveCapacity(Self.blockByteCount)
        schedule = [UInt32](repeating: 0, count: 64)
    }

    /// Appends `bytes` to the message; call as often as needed, then `finalize()`.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            absorb(buffer)
        }
        if handled == nil {
            for byte in bytes { absorb(byte) }
        }
    }

    /// Returns the digest of everything passed to `update` and resets the hasher for a new message.
    public mutating func finalize() -> [UInt8] {
        let bitLength = byteCount &* 8
        absorb(0x80)
        while pending.count != Self.blockByteCount - 8 { absorb(0x00) }
        for shift in stride(from: 56, through: 0, by: -8) {
            absorb(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }
        var digest = [UInt8]()
        digest.reserveCapacity(Self.digestByteCount)
        for word in state {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        state = Self.initialState
        pending.removeAll(keepingCapacity: true)
        byteCount = 0
        return digest
    }

    /// The digest of one whole message.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    private mutating func absorb(_ byte: UInt8) {
        pending.append(byte)
        byteCount &+= 1
        if pending.count == Self.blockByteCount {
            pending.withUnsafeBufferPointer { Self.compress($0[...], into: &state, schedule: &schedule) }
            pending.removeAll(keepingCapacity: true)
        }
    }

    /// Whole blocks go straight from the caller's buffer to the compression function; only the tail is copied.
    private mutating func absorb(_ buffer: UnsafeBufferPointer<UInt8>) {
        var index = buffer.startIndex
        while index < buffer.endIndex, !pending.isEmpty {
            absorb(buffer[index])
            index += 1
        }
        while buffer.endIndex - index >= Self.blockByteCount {
            Self.compress(buffer[index..<index + Self.blockByteCount], into: &state, schedule: &schedule)
            byteCount &+= UInt64(Self.blockByteCount)
            index += Self.blockByteCount
        }
        while index < buffer.endIndex {
            absorb(buffer[index])
            index += 1
        }
    }

    /// The compression function over exactly one 64-byte block.
    private static func compress(
        _ block: Slice<UnsafeBufferPointer<UInt8>>, into state: inout [UInt32], schedule: inout [UInt32]
    ) {
        var offset = block.startIndex
        for t in 0..<16 {
            schedule[t] =
                UInt32(block[offset]) << 24 | UInt32(block[offset + 1]) << 16 | UInt32(block[offset + 2]) << 8
                | UInt32(block[offset + 3])
            offset += 4
        }
        for t in 16..<64 {
            let w15 = schedule[t - 15]
            let w2 = schedule[t - 2]
            let sigma0 = w15.rotatedRight(7) ^ w15.rotatedRight(18) ^ (w15 >> 3)
            let sigma1 = w2.rotatedRight(17) ^ w2.rotatedRight(19) ^ (w2 >> 10)
            schedule[t] = schedule[t - 16] &+ sigma0 &+ schedule[t - 7] &+ sigma1
        }
        var a = state[0]
        var b = state[1]
        var c = state[2]
        var d = state[3]
        var e = state[4]
        var f = state[5]
        var g = state[6]
        var h = state[7]
        for t in 0..<64 {
            let bigSigma1 = e.rotatedRight(6) ^ e.rotatedRight(11) ^ e.rotatedRight(25)
            let choose = (e & f) ^ (~e & g)
            let temp1 = h &+ bigSigma1 &+ choose &+ roundConstants[t] &+ schedule[t]
            let bigSigma0 = a.rotatedRight(2) ^ a.rotatedRight(13) ^ a.rotatedRight(22)
            let majority = (a & b) ^ (a & c) ^ (b & c)
            let temp2 = bigSigma0 &+ majority
            h = g
            g = f
            f = e
            e = d &+ temp1
            d = c
            c = b
            b = a
            a = temp1 &+ temp2
        }
        state[0] &+= a
        state[1] &+= b
        state[2] &+= c
        state[3] &+= d
        state[4] &+= e
        state[5] &+= f
        state[6] &+= g
        state[7] &+= h
    }
}

extension UInt32 {
    fileprivate func rotatedRight(_ count: UInt32) -> UInt32 {
        (self >> count) | (self << (32 - count))
    }
}
