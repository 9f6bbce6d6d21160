#if canImport(Network)
    import Foundation
    import Network

    /// `NWPathMonitor` behind `NetworkPathMonitor`. The monitor runs on its own queue; readers see the last path.
    public final class ApplePathMonitor: NetworkPathMonitor, @unchecked Sendable {
        private let monitor = NWPathMonitor()
        private let queue = DispatchQueue(label: "stitch.network-path", qos: .utility)
        private let lock = NSLock()
        private var status = NetworkStatus(type: .unknown)

        public init() {
            monitor.pathUpdateHandler = { [weak self] path in
                self?.update(path)
            }
            monitor.start(queue: queue)
        }

        deinit { monitor.cancel() }

        public var current: NetworkStatus {
            lock.lock()
            defer { lock.unlock() }
            return status
        }

        private func update(_ path: NWPath) {
            let type: NetworkStatus.ConnectionType
            if path.status != .satisfied {
                type = .unavailable
            } else if path.usesInterfaceType(.wifi) {
                type = .wifi
            } else if path.usesInterfaceType(.cellular) {
                type = .cell
            } else if path.usesInterfaceType(.wiredEthernet) {
                type = .wired
            } else {
                type = .unknown
            }
            lock.lock()
            status = NetworkStatus(type: type)
            lock.unlock()
        }
    }
#endif
