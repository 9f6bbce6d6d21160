/// Splits an OTLP export request body in two halves by item, for the one retry a 413 (payload too large) allows.
///
/// It reads the layout `OTLPEncoder` writes — one resource entry with one scope entry holding the items — and writes
/// each half exactly as the encoder would have encoded that half, so a persisted batch can be split without being
/// decoded into the model. Pure; any other layout, or a body with fewer than two items, gives nil.
public enum OTLPRequestSplitter {
    // Field numbers shared by ExportTraceServiceRequest/ExportLogsServiceRequest and their nested messages.
    private static let resourceEntries: UInt64 = 1
    private static let scopeEntries: UInt64 = 2
    private static let items: UInt64 = 2

    public static func halves(_ body: [UInt8]) -> (first: [UInt8], second: [UInt8])? {
        guard let layout = try? Layout(body), layout.items.count >= 2 else { return nil }
        let half = layout.items.count / 2
        return (layout.encode(items: layout.items[..<half]), layout.encode(items: layout.items[half...]))
    }

    /// The parts of a request: every field kept as its raw bytes, and the items' ranges.
    private struct Layout {
        let body: [UInt8]
        /// Fields of the resource entry before and after its scope entry (the resource, the schema URL).
        var resourceFields: [(number: UInt64, range: Range<Int>)] = []
        /// Fields of the scope entry other than items (the scope, the schema URL).
        var scopeFields: [(number: UInt64, range: Range<Int>)] = []
        var items: [Range<Int>] = []

        init(_ body: [UInt8]) throws(OTLPResponseDecodingError) {
            self.body = body
            var top = ProtobufFieldReader(body, range: 0..<body.count)
            var resource: Range<Int>?
            while let f = try top.next() {
                guard f.number == OTLPRequestSplitter.resourceEntries, case .lengthDelimited(let r) = f.value,
                    resource == nil
                else { throw .invalidKey(offset: 0) }
                resource = r
            }
            guard let resource else { throw .truncated(offset: 0) }
            var inResource = ProtobufFieldReader(body, range: resource)
            var scope: Range<Int>?
            while let f = try inResource.next() {
                guard case .lengthDelimited(let r) = f.value else { throw .invalidKey(offset: resource.lowerBound) }
                if f.number == OTLPRequestSplitter.scopeEntries {
                    guard scope == nil else { throw .invalidKey(offset: r.lowerBound) }
                    scope = r
                } else {
                    resourceFields.append((f.number, r))
                }
            }
            guard let scope else { throw .truncated(offset: resource.lowerBound) }
            var inScope = ProtobufFieldReader(body, range: scope)
            while let f = try inScope.next() {
                guard case .lengthDelimited(let r) = f.value else { throw .invalidKey(offset: scope.lowerBound) }
                if f.number == OTLPRequestSplitter.items {
                    items.append(r)
                } else {
                    scopeFields.append((f.number, r))
                }
            }
        }

        func encode(items chosen: ArraySlice<Range<Int>>) -> [UInt8] {
            var w = ProtobufWriter(capacity: body.count)
            let resourceMark = w.beginMessage(UInt32(OTLPRequestSplitter.resourceEntries), expectedLengthBytes: 3)
            // The encoder writes the resource first and any other resource-entry field after the scope entry.
            for f in resourceFields where f.number < OTLPRequestSplitter.scopeEntries {
                w.writeBytesField(UInt32(f.number), Array(body[f.range]))
            }
            let scopeMark = w.beginMessage(UInt32(OTLPRequestSplitter.scopeEntries), expectedLengthBytes: 3)
            for f in scopeFields where f.number < OTLPRequestSplitter.items {
                w.writeBytesField(UInt32(f.number), Array(body[f.range]))
            }
            for r in chosen { w.writeBytesField(UInt32(OTLPRequestSplitter.items), Array(body[r])) }
            for f in scopeFields where f.number > OTLPRequestSplitter.items {
                w.writeBytesField(UInt32(f.number), Array(body[f.range]))
            }
            w.endMessage(scopeMark)
            for f in resourceFields where f.number > OTLPRequestSplitter.scopeEntries {
                w.writeBytesField(UInt32(f.number), Array(body[f.range]))
            }
            w.endMessage(resourceMark)
            return w.bytes
        }
    }
}
