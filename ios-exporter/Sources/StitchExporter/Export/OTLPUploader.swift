import Foundation
import StitchOTLP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Sends one encoded OTLP request over HTTP and reports the answer. Runs on the export queue, which may wait for
/// it; the app's threads never do.
struct OTLPUploader: Sendable {
    let endpoint: URL
    let headers: [String: String]
    let session: URLSession
    let timeout: TimeInterval

    struct Answer: Sendable {
        var status: Int?
        var retryAfter: String?
        var body: [UInt8]
        var error: String?
    }

    /// POSTs `gzipBody` (an OTLP protobuf request, gzip'd) to `endpoint + signal.path`. `batchName` travels as
    /// `X-Stitch-Batch`, so a receiver or proxy can drop a batch sent twice (a kill between its 2xx and its delete).
    func send(gzipBody body: [UInt8], signal: UploadPolicy.Signal, batchName: String?) -> Answer {
        var request = URLRequest(url: endpoint.appendingPathComponent(String(signal.path.dropFirst())))
        request.httpMethod = "POST"
        request.timeoutInterval = timeout
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        request.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
        request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
        if let batchName { request.setValue(batchName, forHTTPHeaderField: "X-Stitch-Batch") }
        request.httpBody = Data(body)
        let result = Locked<Answer?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { data, response, error in
            let http = response as? HTTPURLResponse
            let answer = Answer(
                status: http?.statusCode, retryAfter: http?.value(forHTTPHeaderField: "Retry-After"),
                body: Array((data ?? Data()).prefix(64 * 1024)), error: error.map { "\($0)" })
            result.withLock { $0 = answer }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + timeout + 5) == .timedOut {
            task.cancel()
            return Answer(status: nil, body: [], error: "no answer within \(Int(timeout)) s")
        }
        return result.current ?? Answer(status: nil, body: [], error: "no answer")
    }
}
