/// One interrupt input of the board's interrupt controller (an ISA/GSI line on
/// x86, an SPI on arm64). Devices hold a line; they never know its number's
/// meaning or how it reaches the guest.
public protocol InterruptLine: Sendable {
    /// Drives a level-sensitive line: true asserts, false deasserts.
    func setLevel(_ asserted: Bool)
}

extension InterruptLine {
    /// Edge: raise then lower, for edge-triggered inputs.
    public func pulse() {
        setLevel(true)
        setLevel(false)
    }
}

/// The board's interrupt controller, as seen by the machine builder.
public protocol InterruptController: Sendable {
    /// Number of device interrupt inputs (GSIs on x86, SPIs on arm64).
    var lineCount: Int { get }
    /// The line for input `number`; the board validated the number already.
    func line(_ number: Int) throws(HypervisorError) -> any InterruptLine
}

/// A message-signalled interrupt as a PCI function sends it: the address and
/// data the guest programmed (an MSI-X table entry), and on arm64 the
/// requester ID the ITS translates (nil where the controller needs none).
public struct MSIMessage: Equatable, Sendable {
    public var address: UInt64
    public var data: UInt32
    public var deviceID: UInt32?

    public init(address: UInt64, data: UInt32, deviceID: UInt32? = nil) {
        self.address = address
        self.data = data
        self.deviceID = deviceID
    }
}

/// Delivers MSIs to the guest (KVM's in-kernel LAPIC or ITS, or a fake).
/// Callable from any thread; a leaf that never calls back into devices.
public protocol MSIController: Sendable {
    func signalMSI(_ message: MSIMessage)
}
