/// A launch's kernel and initrd bytes, shared by every copy of its
/// `LaunchOptions` and handed over once: after `take()`, the only copies
/// left are the ones the machine builder copies into guest RAM and drops,
/// so lkvm does not hold a distribution kernel and initrd (tens of MiB) in
/// its heap for the guest's whole life.
final class BootFiles: @unchecked Sendable {
    // @unchecked: used by the launching thread only, before vCPUs start.
    private(set) var kernel: [UInt8]
    var initrd: [UInt8]?

    init(kernel: [UInt8], initrd: [UInt8]?) {
        self.kernel = kernel
        self.initrd = initrd
    }

    /// The bytes, given up by this box.
    func take() -> (kernel: [UInt8], initrd: [UInt8]?) {
        defer {
            kernel = []
            initrd = nil
        }
        return (kernel, initrd)
    }
}
