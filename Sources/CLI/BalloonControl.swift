/// What the control verbs need from a memory balloon device. The virtio
/// balloon conforms; the control handler finds it among the VM's virtio
/// devices with `as? any BalloonControl`, so the verbs do not depend on it.
protocol BalloonControl: AnyObject {
    /// Asks the guest to hand back memory until the balloon holds `mebibytes`.
    func setTarget(mebibytes: Int) throws
    /// Asks the guest for fresh memory statistics and waits for them, at
    /// most `timeoutSeconds`; false when none came (no driver, a slow guest).
    func refreshStatistics(timeoutSeconds: Double) -> Bool
    /// Figures for `lkvm stat` (name, value), in display order.
    var statusFields: [(String, Int64)] { get }
}
