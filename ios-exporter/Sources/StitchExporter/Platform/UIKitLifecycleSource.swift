#if canImport(UIKit) && !os(watchOS)
    import Foundation
    import UIKit

    /// UIKit's application notifications behind `AppLifecycleSource`.
    public final class UIKitLifecycleSource: AppLifecycleSource, @unchecked Sendable {
        private var observers: [NSObjectProtocol] = []

        public init() {}

        deinit { observers.forEach(NotificationCenter.default.removeObserver) }

        public func start(_ handler: @escaping @Sendable (AppLifecycleEvent) -> Void) -> Bool {
            let center = NotificationCenter.default
            let mapping: [(Notification.Name, AppLifecycleEvent)] = [
                (UIApplication.didBecomeActiveNotification, .active),
                (UIApplication.willResignActiveNotification, .inactive),
                (UIApplication.didEnterBackgroundNotification, .background),
                (UIApplication.willEnterForegroundNotification, .foreground),
                (UIApplication.willTerminateNotification, .terminate),
            ]
            observers = mapping.map { name, event in
                center.addObserver(forName: name, object: nil, queue: nil) { _ in handler(event) }
            }
            if Thread.isMainThread {
                return MainActor.assumeIsolated { UIApplication.shared.applicationState == .active }
            }
            return false
        }
    }
#endif
