import CZlib

/// Why gzip compression or decompression failed.
public enum GzipError: Error, Sendable, Equatable {
    /// The level is outside zlib's -1...9.
    case invalidLevel(Int32)
    /// zlib could not set up a stream (usually out of memory); carries zlib's return code.
    case streamInitializationFailed(code: Int32)
    /// The input is not a valid gzip stream (bad header, bad deflate data, or a checksum mismatch).
    case corruptData(code: Int32)
    /// The input ends before the gzip stream does (this includes empty input).
    case truncatedData
    /// Inflating would produce more than the allowed number of bytes.
    case outputLimitExceeded(limit: Int)
    /// zlib reported an unexpected state; carries its return code.
    case zlibFailure(code: Int32)
}

/// gzip (RFC 1952) bodies for OTLP/HTTP `Content-Encoding: gzip`, through the system zlib.
///
/// The header is fixed (no name, modification time 0, OS 255 "unknown"), so the same input, level and zlib give the
/// same bytes on every platform and run.
public enum Gzip {
    /// The level the exporter compresses OTLP bodies with. Level 1 is about twice as fast as zlib's default (6) on
    /// OTLP protobuf for some 15 % more bytes (66 against 58 bytes per span in the benchmarks): on a phone the CPU
    /// of every batch costs more battery than those bytes cost radio time.
    public static let otlpLevel: Int32 = 1
    /// zlib's `windowBits` for a 32 KiB window with a gzip wrapper (15 + 16).
    private static let gzipWindowBits: Int32 = 15 + 16
    /// zlib's default memory level.
    private static let memoryLevel: Int32 = 8
    /// zlib's `avail_in`/`avail_out` are 32-bit; larger buffers are fed in slices of this size.
    private static let maxSlice = Int(UInt32.max)

    /// Compresses `bytes` into one gzip member. `level` is zlib's: 1 fastest, 9 smallest, -1 the default (6).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws(GzipError) -> [UInt8] {
        guard (-1...9).contains(level) else { throw .invalidLevel(level) }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let header = UnsafeMutablePointer<gz_header>.allocate(capacity: 1)
        header.initialize(to: gz_header())
        header.pointee.os = 255
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
            header.deinitialize(count: 1)
            header.deallocate()
        }
        let initCode = deflateInit2_(
            stream, level, Z_DEFLATED, gzipWindowBits, memoryLevel, Z_DEFAULT_STRATEGY, zlibVersion(),
            Int32(MemoryLayout<z_stream>.size))
        guard initCode == Z_OK else { throw .streamInitializationFailed(code: initCode) }
        defer { deflateEnd(stream) }
        let headerCode = deflateSetHeader(stream, header)
        guard headerCode == Z_OK else { throw .zlibFailure(code: headerCode) }

        let bound = bytes.count <= maxSlice ? Int(deflateBound(stream, uLong(bytes.count))) : bytes.count
        var output = [UInt8](repeating: 0, count: max(bound, 64))
        var produced = 0
        var consumed = 0
        return try bytes.withUnsafeBufferPointer { (input) throws(GzipError) -> [UInt8] in
            // Each pass consumes input, fills the output (which then doubles) or ends the stream, and a pass that
            // can do none of these throws, so the loop ends after at most input + output size passes.
            while true {
                if produced == output.count { output.append(contentsOf: repeatElement(0, count: output.count)) }
                let inSlice = min(input.count - consumed, maxSlice)
                let outSlice = min(output.count - produced, maxSlice)
                stream.pointee.next_in =
                    inSlice > 0 ? input.baseAddress.map { UnsafeMutablePointer(mutating: $0 + consumed) } : nil
                stream.pointee.avail_in = uInt(inSlice)
                let flush = consumed + inSlice == input.count ? Z_FINISH : Z_NO_FLUSH
                let code = output.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.pointee.next_out = out.baseAddress.map { $0 + produced }
                    stream.pointee.avail_out = uInt(outSlice)
                    return deflate(stream, flush)
                }
                let usedIn = inSlice - Int(stream.pointee.avail_in)
                let usedOut = outSlice - Int(stream.pointee.avail_out)
                consumed += usedIn
                produced += usedOut
                switch code {
                case Z_STREAM_END:
                    output.removeLast(output.count - produced)
                    return output
                case Z_OK, Z_BUF_ERROR:
                    if usedIn == 0 && usedOut == 0 && produced < output.count { throw .zlibFailure(code: code) }
                default:
                    throw .zlibFailure(code: code)
                }
            }
        }
    }

    /// Inflates a gzip body (one member or several concatenated), refusing to produce more than `maxOutputBytes`, so
    /// a small hostile body cannot expand without bound.
    public static func decompress(_ bytes: [UInt8], maxOutputBytes: Int) throws(GzipError) -> [UInt8] {
        guard !bytes.isEmpty else { throw .truncatedData }
        let limit = min(max(0, maxOutputBytes), Int.max - 1)
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let initCode = inflateInit2_(stream, gzipWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initCode == Z_OK else { throw .streamInitializationFailed(code: initCode) }
        defer { inflateEnd(stream) }

        var output = [UInt8](repeating: 0, count: min(limit, max(4096, bytes.count &* 4)) + 1)
        var produced = 0
        var consumed = 0
        return try bytes.withUnsafeBufferPointer { (input) throws(GzipError) -> [UInt8] in
            // Each pass consumes input, fills the output (which then grows, up to the limit) or ends a member, and a
            // pass that can do none of these throws, so the loop is bounded by input + limit.
            while true {
                if produced == output.count {
                    // The buffer holds limit + 1 bytes at most: filling that last byte means "over the limit".
                    guard produced <= limit else { throw .outputLimitExceeded(limit: limit) }
                    let doubled = output.count > Int.max / 2 ? Int.max : output.count * 2
                    output.append(contentsOf: repeatElement(0, count: min(limit + 1, doubled) - output.count))
                }
                let inSlice = min(input.count - consumed, maxSlice)
                let outSlice = min(output.count - produced, maxSlice)
                stream.pointee.next_in =
                    inSlice > 0 ? input.baseAddress.map { UnsafeMutablePointer(mutating: $0 + consumed) } : nil
                stream.pointee.avail_in = uInt(inSlice)
                let code = output.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.pointee.next_out = out.baseAddress.map { $0 + produced }
                    stream.pointee.avail_out = uInt(outSlice)
                    return inflate(stream, Z_NO_FLUSH)
                }
                let usedIn = inSlice - Int(stream.pointee.avail_in)
                let usedOut = outSlice - Int(stream.pointee.avail_out)
                consumed += usedIn
                produced += usedOut
                if produced > limit { throw .outputLimitExceeded(limit: limit) }
                switch code {
                case Z_STREAM_END:
                    if consumed == input.count {
                        output.removeLast(output.count - produced)
                        return output
                    }
                    // Another gzip member follows (RFC 1952 allows a series of members).
                    let resetCode = inflateReset(stream)
                    guard resetCode == Z_OK else { throw .zlibFailure(code: resetCode) }
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress with room left in the output means the input ran out mid-stream.
                    if produced < output.count { throw .truncatedData }
                case Z_DATA_ERROR, Z_NEED_DICT:
                    throw .corruptData(code: code)
                default:
                    throw .zlibFailure(code: code)
                }
            }
        }
    }
}
