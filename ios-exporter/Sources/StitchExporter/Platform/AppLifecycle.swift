/// A change of the app's state, as UIKit reports it. The exporter records each as a `device.app.lifecycle` log
/// record (`ios.app.state`) and feeds the session rule the matching event.
public enum AppLifecycleEvent: String, Sendable, CaseIterable {
    /// `didBecomeActive`.
    case active
    /// `willResignActive`.
    case inactive
    /// `didEnterBackground`.
    case background
    /// `willEnterForeground`.
    case foreground
    /// `willTerminate`.
    case terminate
}

/// Background work the system wakes the app for. It carries the current session, even an expired one.
public enum BackgroundWork: String, Sendable {
    case backgroundFetch = "background_fetch"
    case push
}

/// Delivers the app's lifecycle changes to the exporter. UIKit's notifications on iOS (`UIKitLifecycleSource`);
/// on Linux the app (or the demo) calls `Stitch.handle(_:)` itself.
public protocol AppLifecycleSource: Sendable {
    /// Starts delivering events to `handler`, and says whether the app is in the foreground right now.
    func start(_ handler: @escaping @Sendable (AppLifecycleEvent) -> Void) -> Bool
}
