import CZlib

/// CRC-32 (ISO-HDLC, as gzip uses), through the system zlib: the checksum of persisted batches.
public enum CRC32 {
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt = crc32(0, nil, 0)
        var offset = 0
        bytes.withUnsafeBufferPointer { buffer in
            // zlib takes 32-bit lengths; larger inputs go in slices.
            while offset < buffer.count {
                let n = min(buffer.count - offset, Int(UInt32.max))
                crc = crc32(crc, buffer.baseAddress! + offset, UInt32(n))
                offset += n
            }
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
