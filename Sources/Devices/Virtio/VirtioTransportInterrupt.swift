/// What a transport's interrupt object adds to `VirtioInterrupt` for the
/// transport core: the DEVICE_NEEDS_RESET flag and a device reset. A leaf
/// like `VirtioInterrupt`: it takes only its own lock.
protocol VirtioTransportInterrupt: VirtioInterrupt {
    var needsReset: Bool { get }
    /// Sets DEVICE_NEEDS_RESET and tells the driver (config change); logs
    /// only the first reason until the driver resets.
    func markNeedsReset(because reason: String)
    /// Device reset: nothing pending, no error, interrupt output quiet.
    func reset()
}
